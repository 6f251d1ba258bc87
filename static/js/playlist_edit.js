// Reordering a playlist by drag and drop, and copying its share link.
// A drop writes the dropped row's item id into the reorder form's "moved" field, and the row it landed after
// into "after" (or, dropped first on the page, the row after it into "before"), and submits it: htmx sends it
// and swaps in the page the server answers (without htmx the form posts normally). Only the neighbour is
// sent: the page may show one page of a long playlist, and the server moves the song beside that row.
// Listeners sit on the document, so lists swapped in by htmx need no setting up.
(function () {
  // Boosted navigation runs this script again each time a playlist page is swapped in: set up once.
  if (window.musrecPlaylistEdit) return;
  window.musrecPlaylistEdit = true;
  var dragged = null;

  function orderOf(list) {
    return Array.prototype.map.call(list.children, function (li) { return li.dataset.itemId; }).join(",");
  }

  function rowOf(target) {
    return target instanceof Element ? target.closest("ol.playlist.editable > li[draggable]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var row = rowOf(event.target);
    if (!row) return;
    dragged = row;
    row.parentNode.dataset.startOrder = orderOf(row.parentNode);
    row.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    // Firefox starts a drag only when some data is set.
    event.dataTransfer.setData("text/plain", row.dataset.itemId);
  });

  document.addEventListener("dragover", function (event) {
    var row = rowOf(event.target);
    if (!dragged || !row || row.parentNode !== dragged.parentNode) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (row === dragged) return;
    var box = row.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    row.parentNode.insertBefore(dragged, after ? row.nextSibling : row);
  });

  document.addEventListener("drop", function (event) {
    if (!dragged || !rowOf(event.target)) return;
    event.preventDefault();
  });

  document.addEventListener("dragend", function () {
    if (!dragged) return;
    var row = dragged, list = row.parentNode;
    dragged = null;
    row.classList.remove("dragging");
    var form = document.getElementById(list.dataset.reorderForm);
    // A drag that ends where it started (or outside the list, after wandering) sends nothing it need not.
    if (!form || orderOf(list) === list.dataset.startOrder) return;
    var previous = row.previousElementSibling, next = row.nextElementSibling;
    // "moved", not "item": form.elements.item is the collection's item() method, not a field of that name.
    form.elements.moved.value = row.dataset.itemId;
    form.elements.after.value = previous ? previous.dataset.itemId : "";
    form.elements.before.value = previous ? "" : next.dataset.itemId;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  });

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    function done() { button.textContent = "Copied"; }
    // The clipboard API needs a secure context (HTTPS or localhost); elsewhere fall back on a selection copy.
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.select();
      if (document.execCommand && document.execCommand("copy")) done();
    }
  });
})();
