/* billing-reports: sort any table column, filter rows, show that a wide table scrolls.
   Plain JavaScript, no library. */
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function sortBy(table, index, numeric, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, position) {
      var raw = row.cells[index] ? row.cells[index].getAttribute("data-sort") || "" : "";
      return { row: row, raw: raw, number: parseFloat(raw), position: position };
    });
    keyed.sort(function (a, b) {
      var result;
      if (numeric) {
        var aMissing = isNaN(a.number), bMissing = isNaN(b.number);
        if (aMissing || bMissing) return aMissing - bMissing || a.position - b.position;
        result = a.number - b.number;
      } else {
        result = collator.compare(a.raw, b.raw);
      }
      if (descending) result = -result;
      return result || a.position - b.position;
    });
    keyed.forEach(function (item) { body.appendChild(item.row); });
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (header, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (header.firstChild) button.appendChild(header.firstChild);
      // The arrow is drawn by CSS in a span hidden from screen readers: the button is named by its
      // column's words alone, and aria-sort on the header says the order.
      var icon = document.createElement("span");
      icon.className = "sort-icon";
      icon.setAttribute("aria-hidden", "true");
      button.appendChild(icon);
      header.appendChild(button);
      var numeric = header.classList.contains("num");
      button.addEventListener("click", function () {
        var descending = header.getAttribute("aria-sort") === "ascending" ? true
          : header.getAttribute("aria-sort") === "descending" ? false : numeric;
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", descending ? "descending" : "ascending");
        sortBy(table, index, numeric, descending);
      });
    });
  }

  function makeFilter(input) {
    var table = document.getElementById(input.getAttribute("data-filter-for"));
    if (!table) return;
    var count = input.parentNode.parentNode.querySelector(".filter-count");
    input.parentNode.parentNode.hidden = false;
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      var rows = table.tBodies[0].rows, shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var match = !needle || rows[i].textContent.toLowerCase().indexOf(needle) !== -1;
        rows[i].hidden = !match;
        if (match) shown++;
      }
      if (count) count.textContent = needle ? shown + " of " + rows.length + " rows" : "";
    });
  }

  // A table wider than its card: a hint above it, a shade on the side with more columns, and a
  // tab stop so that the keyboard can scroll it (only while it overflows).
  function watchScroll(frame) {
    var scroller = frame.querySelector(".table-scroll");
    var hint = frame.querySelector(".scroll-hint");
    if (!scroller) return;
    function update() {
      var overflows = scroller.scrollWidth > scroller.clientWidth + 1;
      var left = scroller.scrollLeft;
      frame.classList.toggle("more-left", overflows && left > 1);
      frame.classList.toggle("more-right", overflows && left + scroller.clientWidth < scroller.scrollWidth - 1);
      if (hint) hint.hidden = !overflows;
      if (overflows) scroller.setAttribute("tabindex", "0");
      else scroller.removeAttribute("tabindex");
    }
    scroller.addEventListener("scroll", update, { passive: true });
    if (window.ResizeObserver) new ResizeObserver(update).observe(scroller);
    else window.addEventListener("resize", update);
    // a folded table is measured when it is opened
    var details = frame.closest("details");
    if (details) details.addEventListener("toggle", update);
    update();
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
  Array.prototype.forEach.call(document.querySelectorAll(".table-frame"), watchScroll);
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter-for]"), makeFilter);
})();
