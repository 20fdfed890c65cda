/* billing-reports: sort any table column, filter rows. Plain JavaScript, no library. */
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

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter-for]"), makeFilter);
})();
