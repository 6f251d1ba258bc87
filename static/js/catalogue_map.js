// The map of the catalogue (templates/recommender/map.html; issue 13 §3): every song a point on one <canvas>, not a
// DOM node each, so that 100,000 songs draw in tens of milliseconds (docs/benchmarks.md, "The catalogue map").
// The points come from map/points.json as parallel lists; a song's title and artist are asked for only when it is
// pointed at or focused (map/songs.json), and a click plays it through the player (static/js/player.js), by
// clicking a play button made for it, with the data-* every play button carries.
// Keyboard: arrows move to the nearest song in that direction, Enter plays it, Space adds it to the selection or
// takes it out, Escape clears the selection. A mouse drag selects the songs in a box, or in the shape drawn once
// "Lasso" is pressed; on a touch screen, a drag selects after "Select an area" is pressed, and scrolls otherwise.
(function () {
  var PADDING = 14;
  var NEAR = 8;

  function setUp(canvas) {
    var frame = canvas.parentNode;
    var page = frame.closest(".map-layout");
    var tip = frame.querySelector(".map-tip");
    var playSlot = frame.querySelector(".map-play");
    var focusText = page.querySelector(".map-focus");
    var nearList = page.querySelector(".map-near-list");
    var modeButton = page.querySelector(".map-select-mode");
    var lassoButton = page.querySelector(".map-lasso");
    var form = page.querySelector(".map-selection");
    var countText = form.querySelector(".map-selection-count");
    var selectionList = form.querySelector(".map-selection-list");
    var submitButton = form.querySelector("button[type=submit]");
    var clearButton = form.querySelector(".map-clear");
    var palette = JSON.parse(canvas.dataset.palette);
    var noGenre = canvas.dataset.noGenre;
    var maxSelection = Number(canvas.dataset.maxSelection);
    var tracksUrl = canvas.dataset.tracksUrl;
    var audio = document.querySelector("#player-bar audio");
    var ctx = canvas.getContext("2d");

    var n = 0, grid = 1, ids = [], xs, ys, colours, byColour = [], liked = new Set(), indexOf = new Map();
    var width = 0, height = 0, side = 0, left = 0, top = 0, radius = 3;
    var focused = -1, hovered = -1, selected = [], selectedSet = new Set();
    var box = null, press = null, selectMode = false, lasso = false, drawQueued = false;
    var described = new Map(), nearTimer = null;

    function screenX(i) { return left + xs[i] * side; }
    function screenY(i) { return top + ys[i] * side; }

    function resize() {
      var rect = canvas.getBoundingClientRect();
      var ratio = window.devicePixelRatio || 1;
      width = rect.width;
      height = rect.height;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      side = Math.max(Math.min(width, height) - 2 * PADDING, 1);
      left = (width - side) / 2;
      top = (height - side) / 2;
      drawPoints();
      draw();
    }

    function schedule() {
      if (drawQueued) return;
      drawQueued = true;
      requestAnimationFrame(function () { drawQueued = false; draw(); });
    }

    function ring(i, size, colour, lineWidth) {
      ctx.beginPath();
      ctx.arc(screenX(i), screenY(i), size, 0, 2 * Math.PI);
      ctx.strokeStyle = colour;
      ctx.lineWidth = lineWidth;
      ctx.stroke();
    }

    // The points are drawn once per size on a canvas of their own; a hover, a key or a selection redraws only the
    // marks on top of a copy of it (a few milliseconds for 100,000 songs instead of a hundred).
    var layer = document.createElement("canvas");
    var layerContext = layer.getContext("2d");

    function drawPoints() {
      var started = performance.now();
      layer.width = canvas.width;
      layer.height = canvas.height;
      layerContext.setTransform(canvas.width / Math.max(width, 1), 0, 0, canvas.height / Math.max(height, 1), 0, 0);
      var d = radius * 2;
      for (var c = 0; c < byColour.length; c++) {
        var members = byColour[c];
        if (!members.length) continue;
        layerContext.fillStyle = c === 0 ? noGenre : palette[(c - 1) % palette.length];
        for (var k = 0; k < members.length; k++) {
          var i = members[k];
          layerContext.fillRect(left + xs[i] * side - radius, top + ys[i] * side - radius, d, d);
        }
      }
      canvas.dataset.pointsMs = (performance.now() - started).toFixed(1);
    }

    function draw() {
      var started = performance.now();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(layer, 0, 0);
      ctx.setTransform(canvas.width / Math.max(width, 1), 0, 0, canvas.height / Math.max(height, 1), 0, 0);
      var d = radius * 2;
      selected.forEach(function (i) {
        ctx.strokeStyle = "#1d1d24";
        ctx.lineWidth = 1.5;
        ctx.strokeRect(screenX(i) - radius - 1.5, screenY(i) - radius - 1.5, d + 3, d + 3);
      });
      liked.forEach(function (i) { ring(i, radius + 3, "#d6246e", 2); });
      var playing = audio && audio.dataset.songId ? indexOf.get(Number(audio.dataset.songId)) : undefined;
      if (playing !== undefined) {
        ring(playing, radius + 6, "#5b3cc4", 3);
        ring(playing, radius + 10, "rgba(91, 60, 196, .35)", 3);
      }
      if (hovered >= 0 && hovered !== focused) ring(hovered, radius + 4, "#1d1d24", 1.5);
      if (focused >= 0) {
        ring(focused, radius + 5, "#fff", 4);
        ring(focused, radius + 5, "#1d1d24", 2);
      }
      if (box) {
        ctx.setLineDash([5, 4]);
        ctx.strokeStyle = "#5b3cc4";
        ctx.lineWidth = 1.5;
        ctx.fillStyle = "rgba(91, 60, 196, .08)";
        if (box.path) {
          ctx.beginPath();
          box.path.forEach(function (point, k) { if (k) ctx.lineTo(point[0], point[1]); else ctx.moveTo(point[0], point[1]); });
          ctx.closePath();
          ctx.fill();
          ctx.stroke();
        } else {
          var x = Math.min(box.x0, box.x1), y = Math.min(box.y0, box.y1);
          ctx.fillRect(x, y, Math.abs(box.x1 - box.x0), Math.abs(box.y1 - box.y0));
          ctx.strokeRect(x, y, Math.abs(box.x1 - box.x0), Math.abs(box.y1 - box.y0));
        }
        ctx.setLineDash([]);
      }
      // Read by the browser tests and bench/map.py (pointsMs: the points alone, drawn once per size).
      canvas.dataset.drawMs = (performance.now() - started).toFixed(1);
      canvas.dataset.drawn = String(n);
    }

    function nearestTo(x, y, within) {
      var best = -1, bestDistance = within * within;
      for (var i = 0; i < n; i++) {
        var dx = screenX(i) - x, dy = screenY(i) - y, distance = dx * dx + dy * dy;
        if (distance < bestDistance) { best = i; bestDistance = distance; }
      }
      return best;
    }

    // The nearest song whose direction from ``from`` lies within about 60° of (dx, dy); -1 when there is none.
    function nextInDirection(from, dx, dy) {
      var best = -1, bestScore = Infinity;
      for (var i = 0; i < n; i++) {
        if (i === from) continue;
        var ox = xs[i] - xs[from], oy = ys[i] - ys[from];
        var along = ox * dx + oy * dy, across = Math.abs(ox * dy - oy * dx);
        if (along <= 0 || across > 2 * along) continue;
        var score = along + 2 * across;
        if (score < bestScore || (score === bestScore && ids[i] < ids[best])) { best = i; bestScore = score; }
      }
      return best;
    }

    function mapNearest(from, k) {
      var found = [];
      for (var i = 0; i < n; i++) {
        if (i === from) continue;
        var dx = xs[i] - xs[from], dy = ys[i] - ys[from], distance = dx * dx + dy * dy;
        if (found.length < k || distance < found[found.length - 1][0]) {
          found.push([distance, i]);
          found.sort(function (a, b) { return a[0] - b[0]; });
          if (found.length > k) found.pop();
        }
      }
      return found.map(function (pair) { return pair[1]; });
    }

    function describe(indexes) {
      var missing = indexes.filter(function (i) { return !described.has(ids[i]); }).map(function (i) { return ids[i]; });
      var ready = missing.length
        ? fetch(tracksUrl + "?ids=" + missing.join(","), { credentials: "same-origin", headers: { Accept: "application/json" } })
            .then(function (response) {
              if (!response.ok) throw new Error("songs: HTTP " + response.status);
              return response.json();
            })
            .then(function (data) { data.tracks.forEach(function (track) { described.set(Number(track.id), track); }); })
        : Promise.resolve();
      return ready.then(function () {
        return indexes.map(function (i) { return described.get(ids[i]); }).filter(Boolean);
      });
    }

    function label(track, i) {
      var notes = [];
      if (liked.has(i)) notes.push("liked");
      if (audio && audio.dataset.songId === String(ids[i])) notes.push("playing");
      if (selectedSet.has(i)) notes.push("selected");
      return track.title + " · " + track.artist + (notes.length ? " (" + notes.join(", ") + ")" : "");
    }

    function playButton(track) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "play";
      button.textContent = "▶";
      button.setAttribute("aria-label", "Play " + track.title);
      ["id", "src", "title", "artist", "url", "artistUrl", "cover", "artwork"].forEach(function (key) {
        button.dataset[key === "id" ? "songId" : key] = track[key] || "";
      });
      return button;
    }

    function songItem(track) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = track.url;
      link.textContent = track.title;
      var artist = document.createElement("span");
      artist.className = "muted";
      artist.textContent = " · " + track.artist;
      item.append(playButton(track), " ", link, artist);
      return item;
    }

    function showTip(i) {
      if (i < 0) { tip.hidden = true; return; }
      describe([i]).then(function (tracks) {
        var active = hovered >= 0 ? hovered : focused;
        if (active !== i || !tracks.length) return;
        tip.textContent = label(tracks[0], i);
        tip.hidden = false;
        var x = screenX(i), y = screenY(i);
        tip.style.left = Math.min(Math.max(x, 0), width) + "px";
        tip.style.top = y + "px";
        tip.classList.toggle("below", y < 48);
        tip.classList.toggle("leftward", x > width * 0.6);
      });
    }

    function focusSong(i) {
      focused = i;
      schedule();
      if (i < 0) return;
      canvas.dataset.focused = String(ids[i]);
      showTip(i);
      describe([i]).then(function (tracks) {
        if (focused === i && tracks.length) focusText.textContent = label(tracks[0], i);
      });
      clearTimeout(nearTimer);
      // Held arrow keys move through many songs: the list near the song waits until they stop.
      nearTimer = setTimeout(function () {
        var near = mapNearest(i, NEAR);
        describe([i].concat(near)).then(function (tracks) {
          if (focused !== i) return;
          nearList.replaceChildren.apply(nearList, tracks.map(songItem));
        });
      }, 150);
    }

    function play(i) {
      describe([i]).then(function (tracks) {
        if (!tracks.length) return;
        var button = playButton(tracks[0]);
        playSlot.replaceChildren(button);
        button.click();
        if (focused === i) focusText.textContent = label(tracks[0], i);
        schedule();
      });
    }

    function setSelection(indexes, note) {
      selected = indexes;
      selectedSet = new Set(indexes);
      form.elements.songs.value = indexes.map(function (i) { return ids[i]; }).join(",");
      var count = indexes.length;
      countText.textContent = count
        ? count + " song" + (count === 1 ? "" : "s") + " selected" + (note ? ": " + note : ".")
        : "Nothing selected.";
      submitButton.disabled = clearButton.disabled = !count;
      selectionList.replaceChildren();
      schedule();
      if (!count) return;
      var shown = indexes.slice(0, 50);
      describe(shown).then(function (tracks) {
        if (selected !== indexes) return;
        selectionList.replaceChildren.apply(selectionList, tracks.map(songItem));
        if (count > shown.length) {
          var more = document.createElement("li");
          more.className = "muted";
          more.textContent = "and " + (count - shown.length) + " more";
          selectionList.append(more);
        }
      });
    }

    // Whether (x, y) lies inside the closed path (ray casting: an odd number of edges crossed to its right).
    function insidePath(x, y, path) {
      var inside = false;
      for (var a = 0, b = path.length - 1; a < path.length; b = a++) {
        var ya = path[a][1], yb = path[b][1];
        if ((ya > y) !== (yb > y) && x < ((path[b][0] - path[a][0]) * (y - ya)) / (yb - ya) + path[a][0]) inside = !inside;
      }
      return inside;
    }

    function selectBox() {
      var path = box.path && box.path.length >= 3 ? box.path : null;
      var xs0 = path ? path.map(function (p) { return p[0]; }) : [box.x0, box.x1];
      var ys0 = path ? path.map(function (p) { return p[1]; }) : [box.y0, box.y1];
      var x0 = Math.min.apply(null, xs0), x1 = Math.max.apply(null, xs0);
      var y0 = Math.min.apply(null, ys0), y1 = Math.max.apply(null, ys0);
      var inside = [];
      for (var i = 0; i < n; i++) {
        var x = screenX(i), y = screenY(i);
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && (!path || insidePath(x, y, path))) inside.push(i);
      }
      // Left to right, so that the playlist travels across the map.
      inside.sort(function (a, b) { return xs[a] - xs[b] || ys[a] - ys[b]; });
      var note = "";
      if (inside.length > maxSelection) {
        note = "the " + (path ? "shape" : "box") + " held " + inside.length + "; the first " + maxSelection + " from the left are kept.";
        inside = inside.slice(0, maxSelection);
      }
      setSelection(inside, note);
    }

    function toggleSelected(i) {
      if (selectedSet.has(i)) {
        setSelection(selected.filter(function (j) { return j !== i; }));
      } else if (selected.length < maxSelection) {
        setSelection(selected.concat([i]));
      }
      focusSong(i);
    }

    function where(event) {
      var rect = canvas.getBoundingClientRect();
      return { x: event.clientX - rect.left, y: event.clientY - rect.top };
    }

    function dragSelects(event) {
      return event.pointerType === "mouse" || selectMode;
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      var at = where(event);
      press = { x: at.x, y: at.y, selects: dragSelects(event) };
      if (press.selects) canvas.setPointerCapture(event.pointerId);
    });

    canvas.addEventListener("pointermove", function (event) {
      var at = where(event);
      if (press && press.selects && (box || Math.hypot(at.x - press.x, at.y - press.y) > 5)) {
        if (!box) box = { x0: press.x, y0: press.y, path: lasso ? [[press.x, press.y]] : null };
        box.x1 = at.x;
        box.y1 = at.y;
        var last = box.path && box.path[box.path.length - 1];
        if (last && Math.hypot(at.x - last[0], at.y - last[1]) > 3) box.path.push([at.x, at.y]);
        schedule();
        return;
      }
      if (event.pointerType !== "mouse" || press) return;
      var i = nearestTo(at.x, at.y, Math.max(10, radius * 2));
      if (i !== hovered) {
        hovered = i;
        canvas.style.cursor = i >= 0 ? "pointer" : "crosshair";
        showTip(i >= 0 ? i : focused);
        schedule();
      }
    });

    canvas.addEventListener("pointerup", function (event) {
      if (!press) return;
      var at = where(event);
      if (box) {
        box.x1 = at.x;
        box.y1 = at.y;
        if (box.path) box.path.push([at.x, at.y]);
        selectBox();
        box = null;
      } else {
        var i = nearestTo(at.x, at.y, event.pointerType === "mouse" ? Math.max(10, radius * 2) : 24);
        if (i >= 0) {
          focusSong(i);
          play(i);
        }
      }
      press = null;
      schedule();
    });

    canvas.addEventListener("pointercancel", function () { press = null; box = null; schedule(); });
    canvas.addEventListener("pointerleave", function () {
      if (press) return;
      hovered = -1;
      showTip(focused);
      schedule();
    });

    // Tabbed to, the map shows a song at once; pressed with a mouse or a finger, it waits for the pointer.
    canvas.addEventListener("focus", function () {
      if (focused < 0 && n && canvas.matches(":focus-visible")) focusSong(nearestTo(left + side / 2, top + side / 2, Infinity));
    });

    var DIRECTIONS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    canvas.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || !n) return;
      var direction = DIRECTIONS[event.key];
      if (direction) {
        event.preventDefault();
        if (focused < 0) {
          focusSong(nearestTo(left + side / 2, top + side / 2, Infinity));
        } else {
          var next = nextInDirection(focused, direction[0], direction[1]);
          if (next >= 0) focusSong(next);
        }
      } else if (event.key === "Enter" && focused >= 0) {
        event.preventDefault();
        play(focused);
      } else if ((event.key === " " || event.key === "Spacebar") && focused >= 0) {
        event.preventDefault();
        toggleSelected(focused);
      } else if (event.key === "Escape" && selected.length) {
        event.preventDefault();
        setSelection([]);
      }
    });

    modeButton.addEventListener("click", function () {
      selectMode = !selectMode;
      modeButton.setAttribute("aria-pressed", String(selectMode));
      canvas.classList.toggle("selecting", selectMode);
    });
    lassoButton.addEventListener("click", function () {
      lasso = !lasso;
      lassoButton.setAttribute("aria-pressed", String(lasso));
    });
    clearButton.addEventListener("click", function () { setSelection([]); });

    if (audio) {
      ["play", "loadstart", "emptied"].forEach(function (name) {
        audio.addEventListener(name, function () {
          if (document.body.contains(canvas)) schedule();
        });
      });
    }

    fetch(canvas.dataset.pointsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("map: HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        n = data.ids.length;
        grid = data.grid;
        ids = data.ids;
        xs = new Float32Array(n);
        ys = new Float32Array(n);
        colours = new Int8Array(n);
        byColour = [[]];
        for (var c = 0; c < palette.length; c++) byColour.push([]);
        for (var i = 0; i < n; i++) {
          xs[i] = data.x[i] / grid;
          ys[i] = data.y[i] / grid;
          colours[i] = data.colour[i];
          byColour[Math.min(data.colour[i] + 1, palette.length)].push(i);
          indexOf.set(ids[i], i);
        }
        data.liked.forEach(function (id) { if (indexOf.has(id)) liked.add(indexOf.get(id)); });
        // Few songs are drawn large enough to point at with a finger; many, small enough not to hide each other.
        radius = n > 20000 ? 1.5 : n > 2000 ? 2.5 : n > 200 ? 4 : 6;
        focusText.textContent = n.toLocaleString("en") + " song" + (n === 1 ? "" : "s") + " on the map. Point at one or tap it, or focus the map and use the arrow keys.";
        resize();
        if (window.ResizeObserver) new ResizeObserver(function () { resize(); }).observe(canvas);
      })
      .catch(function (error) {
        focusText.textContent = "The map could not be loaded (" + error.message + "). Reload the page to try again.";
      });
  }

  function start() {
    var canvas = document.getElementById("catalogue-map");
    if (!canvas || canvas.dataset.ready) return;
    canvas.dataset.ready = "true";
    setUp(canvas);
  }

  start();
  // A boosted link swaps the page in: the script runs again when it is new, but not when the browser reuses it.
  if (!window.musrecMapListening) {
    window.musrecMapListening = true;
    document.addEventListener("htmx:afterSettle", start);
  }
})();
