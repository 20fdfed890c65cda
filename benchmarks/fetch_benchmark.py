"""Placeholder until billing_reports.fetching lands."""
def fetch_table(work_dir, **kwargs):
    return "Fetch efficiency: not measured yet (billing_reports.fetching has not landed)"
