// Play buttons share the page's <audio class="playlist-player">; "Play all" walks the list in order.
// Listeners sit on the document, so lists swapped in by htmx work without setting up again.
(function () {
  var current = -1;
  function player() { return document.querySelector("audio.playlist-player"); }
  function buttons() { return Array.prototype.slice.call(document.querySelectorAll("button.play")); }
  function play(index) {
    var list = buttons(), audio = player();
    if (!audio || index < 0 || index >= list.length) return;
    list.forEach(function (b) { b.classList.remove("playing"); });
    current = index;
    list[index].classList.add("playing");
    audio.src = list[index].dataset.src;
    audio.play();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.play");
    if (button) { play(buttons().indexOf(button)); return; }
    if (event.target.closest("button.play-all")) play(0);
  });
  document.addEventListener("ended", function (event) {
    if (event.target.matches && event.target.matches("audio.playlist-player")) play(current + 1);
  }, true);
})();
