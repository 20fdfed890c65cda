"""Publishing the built site to internal static hosting."""
