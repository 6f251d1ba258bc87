// Musrec's player. One <audio> lives in a bar outside #page, the part of the document that navigation
// replaces: links and forms are boosted by htmx (hx-boost on <body>) and their answers swapped into #page
// only, so the music goes on from page to page. The bar keeps a queue; any element with data-queue is a
// list to queue from. Every play of every <audio> on the site is reported to the server: how many seconds
// were really heard (timeupdate steps while playing; seeks are not listening) and whether it reached the end.
(function () {
  "use strict";

  var bar = document.getElementById("player-bar");
  if (!bar) return;
  var audio = bar.querySelector("audio");
  var titleLink = bar.querySelector(".player-title");
  var artistLabel = bar.querySelector(".player-artist");
  var coverImage = bar.querySelector(".player-cover");
  var idleLabel = bar.querySelector(".player-idle");
  var toggleButton = bar.querySelector(".player-toggle");
  var previousButton = bar.querySelector(".player-previous");
  var nextButton = bar.querySelector(".player-next");
  var seek = bar.querySelector(".player-seek");
  var timeLabel = bar.querySelector(".player-time");
  var durationLabel = bar.querySelector(".player-duration");
  var addLink = bar.querySelector(".player-add");
  var rateSlot = bar.querySelector(".player-rate");
  var queueList = bar.querySelector(".player-queue-list");
  var queueCount = bar.querySelector(".player-queue-count");
  var volumeSlider = bar.querySelector(".player-volume");
  var shuffleButtons = bar.querySelectorAll(".player-shuffle");
  var repeatButtons = bar.querySelectorAll(".player-repeat");
  var notice = bar.querySelector(".player-notice");
  var reasonLabel = bar.querySelector(".player-reason");
  var radioPanel = bar.querySelector(".player-radio");
  var help = document.querySelector("dialog.player-help");

  var RECORD_URL = bar.dataset.recordUrl;
  var RADIO_URL = bar.dataset.radioUrl;
  var CSRF_TOKEN = bar.dataset.csrfToken;
  var STORAGE_KEY = "musrec-player-" + bar.dataset.user;
  // Volume, shuffle and repeat outlast the tab: a listener sets them once for this browser.
  var SETTINGS_KEY = "musrec-player-settings-" + bar.dataset.user;
  var REPEAT_MODES = ["off", "all", "one"];
  var SEEK_STEP_SECONDS = 5;
  // timeupdate comes every quarter second or so; a longer step is a jump, not listening.
  var MAX_STEP_SECONDS = 5;
  // "Previous" restarts the song when this far in, as music players do.
  var RESTART_AFTER_SECONDS = 3;
  // Radio keeps this many of its songs queued after the playing one; it asks for them anew after every song.
  var RADIO_AHEAD = 2;
  // What the server remembers of a session (recommender.radio.MAX_SESSION_SONGS).
  var RADIO_MEMORY = 200;

  var queue = [];
  var index = -1;
  var seeking = false;
  var settings = { volume: 1, shuffle: false, repeat: "off" };
  // One listening session per <audio> element: {songId, heard, last}.
  var sessions = new Map();
  // Radio: null, or {kind, id, name, heard: [[song id, seconds, ended], ...] oldest first (the last RADIO_MEMORY),
  // count: songs heard in all, asked: the count when its songs were last asked for}. Saved with the queue.
  var radio = null;
  // The queue's order before shuffle (song ids), to go back to when shuffle is turned off.
  var unshuffled = null;
  var radioRequest = 0;

  function current() { return index >= 0 && index < queue.length ? queue[index] : null; }

  function clock(seconds) {
    if (!isFinite(seconds) || seconds < 0) seconds = 0;
    var s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // ---- Recording plays ------------------------------------------------------------------------

  function songIdOf(media) {
    if (media === audio) return audio.dataset.songId || null;
    // Other players on a page (the song page's own) play /songs/<id>/audio.
    var match = /\/songs\/(\d+)\/audio(?:$|[?#])/.exec(media.currentSrc || media.src || "");
    return match ? match[1] : null;
  }

  function startSession(media) {
    var songId = songIdOf(media);
    if (!songId) return null;
    var session = sessions.get(media);
    if (session && session.songId !== songId) {
      flush(media, false);
      session = null;
    }
    if (!session) {
      session = { songId: songId, heard: 0, last: null };
      sessions.set(media, session);
    }
    return session;
  }

  function accumulate(media) {
    var session = sessions.get(media);
    if (!session) return;
    if (session.last !== null && !media.seeking) {
      var step = media.currentTime - session.last;
      if (step > 0 && step < MAX_STEP_SECONDS) session.heard += step;
    }
    session.last = media.paused || media.seeking ? null : media.currentTime;
  }

  // A beacon survives the page going away; fetch is for waiting on the answer, or where beacons are refused.
  function send(songId, seconds, ended, wait) {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", CSRF_TOKEN);
    data.append("song", songId);
    data.append("seconds", seconds.toFixed(2));
    data.append("ended", ended ? "1" : "0");
    if (!wait && navigator.sendBeacon && navigator.sendBeacon(RECORD_URL, data)) return Promise.resolve();
    return fetch(RECORD_URL, { method: "POST", body: data, credentials: "same-origin", keepalive: true })
      .catch(function () {});
  }

  function flush(media, ended, wait) {
    var session = sessions.get(media);
    if (!session) return Promise.resolve();
    if (!ended) accumulate(media);
    sessions.delete(media);
    var heard = session.heard;
    if (isFinite(media.duration)) heard = Math.min(heard, media.duration);
    if (media === audio) radioHeard(session.songId, heard, ended);
    return send(session.songId, heard, ended, wait);
  }

  function flushAll(wait) {
    var pending = [];
    sessions.forEach(function (_, media) { pending.push(flush(media, false, wait)); });
    return Promise.all(pending);
  }

  function onMediaEvent(event) {
    var media = event.target;
    if (!(media instanceof HTMLMediaElement)) return;
    switch (event.type) {
      case "play":
        // One thing plays at a time: the bar or a player on the page.
        document.querySelectorAll("audio, video").forEach(function (other) {
          if (other !== media && !other.paused) other.pause();
        });
        break;
      case "playing":
        var session = startSession(media);
        if (session) session.last = media.currentTime;
        break;
      case "timeupdate":
        if (!sessions.has(media) && !media.paused) startSession(media);
        accumulate(media);
        break;
      case "pause":
        accumulate(media);
        break;
      case "seeking":
        accumulate(media);
        if (sessions.has(media)) sessions.get(media).last = null;
        break;
      case "seeked":
        if (sessions.has(media)) sessions.get(media).last = media.paused ? null : media.currentTime;
        break;
      case "ended":
        accumulate(media);
        flush(media, true);
        if (media === audio) finished();
        break;
      case "error":
        // A song whose file is gone (deleted meanwhile): go on with the queue.
        if (media === audio && audio.getAttribute("src")) next();
        break;
    }
    if (media === audio) showState();
  }
  ["play", "playing", "timeupdate", "pause", "seeking", "seeked", "ended", "error"].forEach(function (type) {
    // Media events do not bubble; listening in the capture phase catches every player, present or future.
    document.addEventListener(type, onMediaEvent, true);
  });

  // A player on a page that navigation replaced is gone: what it played so far is one play.
  function flushDetached() {
    sessions.forEach(function (_, media) {
      if (media !== audio && !media.isConnected) flush(media, false);
    });
  }

  // ---- The queue ------------------------------------------------------------------------------

  function trackOf(button) {
    return {
      id: button.dataset.songId,
      src: button.dataset.src,
      title: button.dataset.title,
      artist: button.dataset.artist,
      url: button.dataset.url,
      artistUrl: button.dataset.artistUrl,
      cover: button.dataset.cover,
      artwork: button.dataset.artwork,
    };
  }

  // A track's cover at 128 or 512 pixels: as its button or queue gave it, else from the bar's address for any song
  // (a queue saved before covers existed), which redirects to the cover's lasting address.
  function coverOf(track, size) {
    var given = size > 128 ? track.artwork : track.cover;
    if (given) return given;
    if (!coverImage || !coverImage.dataset.urlTemplate) return "";
    return coverImage.dataset.urlTemplate.replace(/\/0\/cover\/128\.jpg$/, "/" + track.id + "/cover/" + size + ".jpg");
  }

  function load(position, autoplay) {
    if (position < 0 || position >= queue.length) return;
    flush(audio, false);
    var leaving = current();
    // Moving on from a song that never started playing is a skip too, for the radio.
    if (leaving && position !== index && !leaving.heard) radioHeard(leaving.id, 0, false);
    index = position;
    var track = queue[index];
    audio.dataset.songId = track.id;
    audio.src = track.src;
    if (autoplay) audio.play().catch(function () {});
    render();
    save();
    if (radio) askRadio();
  }

  // Shuffled, the chosen song plays first and the rest follow in a random order.
  function shuffled(tracks, position) {
    var rest = tracks.filter(function (_, i) { return i !== position; });
    for (var i = rest.length - 1; i > 0; i--) {
      var j = Math.floor(Math.random() * (i + 1));
      var swap = rest[i]; rest[i] = rest[j]; rest[j] = swap;
    }
    return [tracks[position]].concat(rest);
  }

  function setQueue(tracks, position) {
    // Choosing what to play ends a radio; "Play next" and "Add to queue" only add to it.
    stopRadio(true);
    unshuffled = null;
    if (settings.shuffle && tracks.length > 1) {
      unshuffled = tracks.map(function (track) { return String(track.id); });
      tracks = shuffled(tracks, position);
      position = 0;
    }
    queue = tracks;
    load(position, true);
  }

  function next() {
    if (index + 1 < queue.length) load(index + 1, true);
    else if (radio) {
      // The radio's next songs are late (a slow answer): the song skipped stops, and the first to come plays as soon
      // as it is there, unless something else was chosen meanwhile.
      audio.pause();
      flush(audio, false);
      var leaving = current();
      if (leaving && !leaving.heard) radioHeard(leaving.id, 0, false);
      askRadio().then(function (applied) {
        if (applied && current() === leaving && index + 1 < queue.length) load(index + 1, true);
      });
    } else if (settings.repeat === "all" && queue.length) load(0, true);
  }

  function finished() {
    if (settings.repeat === "one") {
      audio.currentTime = 0;
      audio.play().catch(function () {});
    } else {
      next();
    }
  }

  // ---- Radio: when the queue runs out, similar songs, steered by what is skipped and what is kept ----------

  // What happened to the playing song, for the radio: recorded once per song, when it is left or ends.
  function radioHeard(songId, seconds, ended) {
    var track = current();
    if (!radio || !track || String(track.id) !== String(songId) || track.heard) return;
    track.heard = true;
    radio.heard.push([String(songId), Math.round(seconds * 10) / 10, ended ? 1 : 0]);
    radio.count = (radio.count || 0) + 1;
    if (radio.heard.length > RADIO_MEMORY) radio.heard.splice(0, radio.heard.length - RADIO_MEMORY);
  }

  function radioForm(count, stale) {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", CSRF_TOKEN);
    data.append("kind", radio.kind);
    data.append("id", radio.id);
    data.append("count", String(count));
    // The station's filters (tempo_min=90&mood=calm), from the starter's data-radio-filters.
    if (radio.filters) new URLSearchParams(radio.filters).forEach(function (value, name) { data.append(name, value); });
    radio.heard.forEach(function (entry) { data.append("heard", entry.join(":")); });
    // Songs still to come count as heard for "no repeats" and the artist limit.
    // Songs still to come count as heard for "no repeats" and the artist limit; not those this answer replaces.
    queue.slice(Math.max(index, 0)).filter(function (track) { return !track.heard && !stale.has(track); })
      .slice(0, RADIO_MEMORY).forEach(function (track) { data.append("queued", String(track.id)); });
    return data;
  }

  // Ask for the radio's next songs. After something new was heard, the radio's songs still to come are asked for
  // anew (the skip or the completed song moves them), and replaced when the answer comes (kept, should it fail);
  // otherwise only missing ones are added. Resolves true when the answer was applied.
  function askRadio(first) {
    if (!radio) return Promise.resolve(false);
    var fresh = (radio.count || 0) !== radio.asked;
    var stale = new Set(fresh && !first ? queue.filter(function (track, position) {
      return position > index && track.radio && !track.heard;
    }) : []);
    var ahead = queue.length - Math.max(index, 0) - 1 - stale.size;
    var wanted = first ? RADIO_AHEAD + 1 : RADIO_AHEAD - ahead;
    if (wanted <= 0) return Promise.resolve(false);
    var ticket = ++radioRequest;
    var asked = radio.count || 0;
    bar.setAttribute("data-radio-busy", "true");
    var body = radioForm(wanted, stale);
    return fetch(RADIO_URL, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return { error: "The radio did not answer (HTTP " + response.status + ")." }; });
      })
      .then(function (data) {
        if (ticket !== radioRequest || !radio) return false;
        if (data.error) {
          announce(data.error, true);
          if (first) stopRadio(false);
          return false;
        }
        radio.asked = asked;
        radio.name = data.station || radio.name;
        queue = queue.filter(function (track) { return !stale.has(track); });
        var tracks = (data.tracks || []).filter(function (track) {
          return !queue.some(function (queued) { return String(queued.id) === String(track.id); });
        });
        if (!tracks.length && ahead <= 0) {
          announce(first ? "The radio found no songs like these to play." : "The radio has no more songs like these.", true);
          if (first) stopRadio(false);
        }
        queue = queue.concat(tracks);
        if (first && tracks.length && index < 0) load(0, true);
        else { render(); save(); }
        return true;
      })
      .catch(function () {
        if (ticket === radioRequest) announce("The radio could not reach the server.", true);
        return false;
      })
      .finally(function () { if (ticket === radioRequest) bar.removeAttribute("data-radio-busy"); });
  }

  // "Start radio" from a song (it plays first), or from an artist, album or playlist (their radio's songs play).
  function startRadio(kind, id, seedTrack, filters) {
    stopRadio(true);
    radio = { kind: kind, id: String(id), name: "Radio", heard: [], count: 0, asked: -1, filters: filters || "" };
    unshuffled = null;
    if (seedTrack) {
      queue = [seedTrack];
      index = -1;
      load(0, true);
    } else {
      // What played stops: the radio's first songs play when they come.
      flush(audio, false);
      audio.pause();
      audio.removeAttribute("src");
      delete audio.dataset.songId;
      audio.load();
      queue = [];
      index = -1;
      render();
      askRadio(true);
    }
    announce("Radio on.");
  }

  function stopRadio(quiet) {
    if (!radio) return;
    radio = null;
    unshuffled = null;
    radioRequest++;
    bar.removeAttribute("data-radio-busy");
    // Its songs still to come go with it; what was played stays in the queue.
    queue = queue.filter(function (track, position) { return position <= index || !track.radio; });
    if (!quiet) {
      render();
      save();
      announce("Radio off.");
      // The button pressed is hidden with the panel: the keyboard goes on from the queue's own button.
      var summary = bar.querySelector(".player-queue summary");
      if (summary && radioPanel && radioPanel.contains(document.activeElement)) summary.focus();
    }
  }

  // In the capture phase, before htmx follows the link a starter also is (where there is no player, that link
  // shows songs like it instead).
  document.addEventListener("click", function (event) {
    var starter = event.target.closest("[data-radio-kind]");
    if (!starter || bar.contains(starter)) return;
    // Ctrl-, Cmd- or Shift-click on the link opens its page (songs like it), as links do.
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    event.stopPropagation();
    var kind = starter.dataset.radioKind;
    var seed = null;
    if (kind === "song") {
      // The song's own play button (beside it in its row, or on its page) carries what the queue needs.
      var scope = starter.closest(".song-actions, [data-queue], main") || document;
      var play = scope.querySelector('button.play[data-song-id="' + starter.dataset.radioId + '"]');
      seed = play ? trackOf(play) : null;
    }
    startRadio(kind, starter.dataset.radioId, seed, starter.dataset.radioFilters);
    var menu = starter.closest("details");
    if (menu) menu.open = false;
  }, true);
  // Disliking the playing song on the radio moves on at once: the radio will not play it again anyway.
  // The bar's dislike and like forms on their way (other requests, a page polling its progress, may come in between).
  // A like of the playing song on the radio steers its songs still to come at once.
  var dislikeForms = new WeakSet();
  var likeForms = new WeakSet();
  document.body.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    var values = detail.formData || detail.parameters;
    var value = values && (typeof values.get === "function" ? values.get("value") : values.value);
    if (!radio || !rateSlot || !rateSlot.contains(detail.elt)) return;
    if (value === "dislike") dislikeForms.add(detail.elt);
    else if (value === "like") likeForms.add(detail.elt);
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    // The form swapped itself out: htmx tells of it on its parent, and keeps the form in the request's config.
    var config = event.detail.requestConfig;
    if (config && likeForms.has(config.elt)) {
      likeForms.delete(config.elt);
      if (radio && event.detail.successful) {
        radio.asked = -1;
        askRadio();
      }
      return;
    }
    if (!config || !dislikeForms.has(config.elt)) return;
    dislikeForms.delete(config.elt);
    var track = current();
    if (radio && event.detail.successful && track && rateSlot.dataset.songId === String(track.id)) next();
  });
  bar.querySelectorAll(".player-radio-stop").forEach(function (button) {
    button.addEventListener("click", function () { stopRadio(false); });
  });

  function seekBy(seconds) {
    if (!audio.getAttribute("src")) return;
    var end = isFinite(audio.duration) ? audio.duration : Infinity;
    audio.currentTime = Math.min(Math.max((audio.currentTime || 0) + seconds, 0), end);
    showState();
  }

  // Said to screen readers; a problem (``visible``) is also shown in the bar for a while.
  function announce(text, visible) {
    if (!notice) return;
    notice.textContent = text;
    notice.classList.toggle("visually-hidden", !visible);
    if (visible) {
      clearTimeout(announce.timer);
      announce.timer = setTimeout(function () { notice.classList.add("visually-hidden"); }, 6000);
    }
  }

  // "Play next" and "Add to queue" sit in a song's "+" menu, beside its play button, which carries the song.
  function queueTrack(track, afterCurrent) {
    if (!current()) {
      queue = [track];
      load(0, afterCurrent);
    } else {
      queue.splice(afterCurrent ? index + 1 : queue.length, 0, track);
      render();
      save();
    }
    announce((afterCurrent ? "Playing next: " : "Added to the queue: ") + track.title);
  }

  function moveInQueue(from, to) {
    if (from === to || to < 0 || to >= queue.length) return;
    var track = queue.splice(from, 1)[0];
    queue.splice(to, 0, track);
    if (index === from) index = to;
    else if (from < index && to >= index) index -= 1;
    else if (from > index && to <= index) index += 1;
    render();
    save();
  }

  function removeFromQueue(position) {
    var removed = queue.splice(position, 1)[0];
    if (position < index) {
      index -= 1;
    } else if (position === index) {
      // The playing song leaves: the next one takes its place, playing if it was.
      var wasPlaying = !audio.paused;
      flush(audio, false);
      audio.pause();
      if (index < queue.length) {
        load(index, wasPlaying);
      } else {
        index = queue.length ? queue.length - 1 : -1;
        audio.removeAttribute("src");
        delete audio.dataset.songId;
        audio.load();
        if (index >= 0) load(index, false);
      }
    }
    render();
    save();
    announce("Removed from the queue: " + removed.title);
  }

  function previous() {
    if (audio.currentTime > RESTART_AFTER_SECONDS || index <= 0) {
      audio.currentTime = 0;
    } else {
      load(index - 1, true);
    }
  }

  function toggle() {
    if (!current()) return;
    if (!audio.getAttribute("src")) {
      load(index, true);
    } else if (audio.paused) {
      audio.play().catch(function () {});
    } else {
      audio.pause();
    }
  }

  function buttonsIn(container) {
    return Array.prototype.filter.call(container.querySelectorAll("button.play"), function (button) {
      return !bar.contains(button);
    });
  }

  // The list a play button belongs to: a data-queue container, else the list or table it sits in, else the page.
  function containerOf(element) {
    return element.closest("[data-queue]") || element.closest("ol, ul, table") || element.closest("main") || document;
  }

  function playFromButton(button) {
    var track = current();
    if (track && track.id === button.dataset.songId && audio.getAttribute("src")) {
      toggle();
      return;
    }
    var buttons = buttonsIn(containerOf(button));
    setQueue(buttons.map(trackOf), Math.max(buttons.indexOf(button), 0));
  }

  function playAll(button) {
    var target = button.dataset.queueTarget ? document.querySelector(button.dataset.queueTarget) : null;
    var container = target || button.closest("[data-queue]") || button.closest("main") || document;
    var buttons = buttonsIn(container);
    function playShown() {
      if (buttons.length) setQueue(buttons.map(trackOf), 0);
    }
    // A list shown a page at a time (a long playlist) names where its whole queue is: {"tracks": [...]}, each
    // track as trackOf reads a button. Fetched only when pressed; should that fail, the page shown plays.
    if (!button.dataset.queueUrl) return playShown();
    button.setAttribute("aria-busy", "true");
    fetch(button.dataset.queueUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("queue: HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (data.tracks.length) setQueue(data.tracks, 0); else playShown();
      })
      .catch(playShown)
      .finally(function () { button.removeAttribute("aria-busy"); });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.play");
    if (button && !bar.contains(button)) {
      playFromButton(button);
      return;
    }
    button = event.target.closest("button.play-all");
    if (button) playAll(button);
  });

  toggleButton.addEventListener("click", toggle);
  nextButton.addEventListener("click", next);
  previousButton.addEventListener("click", previous);
  queueList.addEventListener("click", function (event) {
    var item = event.target.closest("button[data-index]");
    if (!item) return;
    var position = Number(item.dataset.index);
    var action = item.dataset.action;
    if (action === "up") moveInQueue(position, position - 1);
    else if (action === "down") moveInQueue(position, position + 1);
    else if (action === "remove") removeFromQueue(position);
    else load(position, true);
    // The list is drawn anew: keep the keyboard on the same control of the same song, or the nearest left.
    var moved = action === "up" ? position - 1 : action === "down" ? position + 1 : position;
    var again = queueList.querySelector('button[data-action="' + (action || "play") + '"][data-index="' + moved + '"]:not(:disabled)') ||
      queueList.querySelector('button[data-index="' + Math.min(moved, queue.length - 1) + '"]');
    if (again) again.focus();
  });

  // A song's "+" menu closes when one taps or clicks anywhere else, as menus do.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.add-to-playlist[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".queue-next, .queue-add");
    if (!button) return;
    var actions = button.closest(".song-actions");
    var play = actions && actions.querySelector("button.play");
    if (!play) return;
    queueTrack(trackOf(play), button.classList.contains("queue-next"));
    var menu = button.closest("details");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });

  // ---- Volume, shuffle, repeat ------------------------------------------------------------------

  function saveSettings() {
    try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)); } catch (error) { /* not remembered */ }
  }

  function loadSettings() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "null"); } catch (error) { saved = null; }
    if (!saved) return;
    var volume = Number(saved.volume);
    if (isFinite(volume)) settings.volume = Math.min(Math.max(volume, 0), 1);
    settings.shuffle = saved.shuffle === true;
    if (REPEAT_MODES.indexOf(saved.repeat) >= 0) settings.repeat = saved.repeat;
  }

  function showSettings() {
    audio.volume = settings.volume;
    if (volumeSlider) {
      volumeSlider.value = String(settings.volume);
      volumeSlider.setAttribute("aria-valuetext", Math.round(settings.volume * 100) + " %");
    }
    shuffleButtons.forEach(function (button) { button.setAttribute("aria-pressed", String(settings.shuffle)); });
    repeatButtons.forEach(function (button) {
      var label = "Repeat: " + (settings.repeat === "all" ? "all" : settings.repeat === "one" ? "this song" : "off");
      button.dataset.mode = settings.repeat;
      button.setAttribute("aria-label", label);
      button.title = label;
      if (!button.querySelector("svg")) button.textContent = label;
    });
  }

  if (volumeSlider) {
    volumeSlider.addEventListener("input", function () {
      settings.volume = Number(volumeSlider.value);
      showSettings();
      saveSettings();
    });
  }
  shuffleButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      settings.shuffle = !settings.shuffle;
      // Turned on mid-queue, what is still to come is shuffled; what was played stays where it was.
      if (settings.shuffle && index >= 0 && index + 2 < queue.length) {
        unshuffled = queue.map(function (track) { return String(track.id); });
        queue = queue.slice(0, index).concat(shuffled(queue.slice(index), 0));
        save();
      } else if (!settings.shuffle && unshuffled) {
        // Turned off, the queue goes back to its order; songs added meanwhile keep their places at the end.
        var playing = current();
        var rank = function (track) {
          var at = unshuffled.indexOf(String(track.id));
          return at < 0 ? unshuffled.length + queue.indexOf(track) : at;
        };
        queue = queue.slice().sort(function (a, b) { return rank(a) - rank(b); });
        if (playing) index = queue.indexOf(playing);
        unshuffled = null;
        save();
      }
      showSettings();
      saveSettings();
      render();
    });
  });
  repeatButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      settings.repeat = REPEAT_MODES[(REPEAT_MODES.indexOf(settings.repeat) + 1) % REPEAT_MODES.length];
      showSettings();
      saveSettings();
      render();
    });
  });

  // ---- Keyboard shortcuts -----------------------------------------------------------------------

  function openHelp() {
    if (help && !help.open) help.showModal();
  }
  bar.querySelectorAll(".player-help-open").forEach(function (button) { button.addEventListener("click", openHelp); });

  // Typing is never a shortcut; nor is Space on a control, which it presses.
  function typingIn(element) {
    if (!element || !element.closest) return false;
    return !!element.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])");
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typingIn(event.target)) return;
    if (help && help.open) return;
    var key = event.key;
    if (key === "?") {
      event.preventDefault();
      openHelp();
    } else if (key === " " || key === "Spacebar") {
      if (event.target.closest && event.target.closest("button, a[href], summary, [role=button], [tabindex]:not(main)")) return;
      if (!current()) return;
      event.preventDefault();
      toggle();
    } else if (key === "ArrowLeft" || key === "ArrowRight") {
      if (!audio.getAttribute("src")) return;
      event.preventDefault();
      var step = event.shiftKey ? 2 * SEEK_STEP_SECONDS : SEEK_STEP_SECONDS;
      seekBy(key === "ArrowLeft" ? -step : step);
    } else if (key === "n" || key === "N") {
      if (!current()) return;
      event.preventDefault();
      next();
    } else if (key === "p" || key === "P") {
      if (!current()) return;
      event.preventDefault();
      previous();
    }
  });

  seek.addEventListener("input", function () {
    seeking = true;
    timeLabel.textContent = clock(Number(seek.value));
  });
  seek.addEventListener("change", function () {
    seeking = false;
    if (audio.getAttribute("src")) audio.currentTime = Number(seek.value);
  });

  // ---- Showing it -----------------------------------------------------------------------------

  // Links the bar changes are boosted again, so they navigate inside #page like the rest.
  function setHref(link, href) {
    if (link.getAttribute("href") === href) return;
    link.setAttribute("href", href);
    if (window.htmx) window.htmx.process(link);
  }

  function markButtons() {
    var track = current();
    document.querySelectorAll("button.play").forEach(function (button) {
      button.classList.toggle("playing", !!track && button.dataset.songId === track.id);
    });
  }

  var PLAY_ICON = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"><path fill="currentColor" d="M7 4v16l13-8z"/></svg>';
  var PAUSE_ICON = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"><path fill="currentColor" d="M6 4h4v16H6zM14 4h4v16h-4z"/></svg>';

  function icon(path) {
    return '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path fill="currentColor" d="' + path + '"/></svg>';
  }
  var UP_ICON = icon("M12 5l7 8h-5v6h-4v-6H5z");
  var DOWN_ICON = icon("M12 19l-7-8h5V5h4v6h5z");
  var REMOVE_ICON = icon("M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z");

  function showState() {
    var playing = !audio.paused;
    // Icons as SVG: the media-control characters (U+23EF and friends) are missing from common fonts.
    toggleButton.innerHTML = playing ? PAUSE_ICON : PLAY_ICON;
    toggleButton.setAttribute("aria-label", playing ? "Pause" : "Play");
    var duration = isFinite(audio.duration) ? audio.duration : 0;
    seek.max = String(duration);
    seek.disabled = !duration;
    if (!seeking) {
      seek.value = String(audio.currentTime || 0);
      timeLabel.textContent = clock(audio.currentTime);
    }
    durationLabel.textContent = clock(duration);
    seek.setAttribute("aria-valuetext", clock(audio.currentTime) + " of " + clock(duration));
  }

  // The like/dislike buttons of the playing song come from the server, which knows its rating.
  function showRating(track) {
    if (!rateSlot) return;
    var songId = track ? String(track.id) : "";
    if (rateSlot.dataset.songId === songId) return;
    rateSlot.dataset.songId = songId;
    rateSlot.replaceChildren();
    if (track && window.htmx) {
      var url = rateSlot.dataset.urlTemplate.replace(/\/0\/rating$/, "/" + songId + "/rating");
      window.htmx.ajax("GET", url, { target: rateSlot, swap: "innerHTML" });
    }
  }

  function render() {
    var track = current();
    titleLink.hidden = artistLabel.hidden = !track;
    idleLabel.hidden = !!track;
    toggleButton.disabled = !track;
    previousButton.disabled = !track;
    nextButton.disabled = !track || (index + 1 >= queue.length && settings.repeat !== "all" && !radio);
    if (reasonLabel) {
      reasonLabel.textContent = track && track.reason ? track.reason : "";
      reasonLabel.hidden = !(track && track.reason);
    }
    if (radioPanel) {
      radioPanel.hidden = !radio;
      radioPanel.querySelector(".player-radio-name").textContent = radio ? radio.name : "";
    }
    if (track) {
      titleLink.textContent = track.title;
      setHref(titleLink, track.url);
      artistLabel.textContent = track.artist;
      if (track.artistUrl) setHref(artistLabel, track.artistUrl); else artistLabel.removeAttribute("href");
      var cover = coverOf(track, 128);
      if (coverImage && cover && coverImage.getAttribute("src") !== cover) coverImage.src = cover;
      if ("mediaSession" in navigator && window.MediaMetadata) {
        var artwork = [];
        if (cover) {
          artwork.push({ src: cover, sizes: "128x128", type: "image/jpeg" });
          artwork.push({ src: coverOf(track, 512), sizes: "512x512", type: "image/jpeg" });
        }
        navigator.mediaSession.metadata = new MediaMetadata({ title: track.title, artist: track.artist, artwork: artwork });
      }
    }
    if (coverImage) coverImage.hidden = !track;
    if (addLink) {
      addLink.hidden = !track;
      // The link was rendered for song 0; the current song takes its place.
      if (track) setHref(addLink, addLink.dataset.hrefTemplate.replace(/([\/=])0(?=$|[\/?&#])/, "$1" + track.id));
    }
    showRating(track);
    queueCount.textContent = String(queue.length);
    queueList.replaceChildren.apply(queueList, queue.map(function (item, position) {
      var li = document.createElement("li");
      function control(action, text, label, disabled) {
        var button = document.createElement("button");
        button.type = "button";
        button.dataset.index = String(position);
        button.dataset.action = action;
        button.className = action === "play" ? "queue-play" : "queue-edit";
        // Edits are icons, so an entry's text is its song alone.
        if (action === "play") button.textContent = text; else button.innerHTML = text;
        button.title = label;
        button.setAttribute("aria-label", label);
        button.disabled = !!disabled;
        li.appendChild(button);
      }
      var name = item.title + " by " + item.artist;
      control("play", item.title + " · " + item.artist, "Play " + name);
      if (item.reason) {
        // The radio's reason for the song, under its entry.
        var why = document.createElement("small");
        why.className = "queue-reason muted";
        why.textContent = item.reason;
        li.querySelector(".queue-play").appendChild(why);
      }
      control("up", UP_ICON, "Move " + name + " up", position === 0);
      control("down", DOWN_ICON, "Move " + name + " down", position === queue.length - 1);
      control("remove", REMOVE_ICON, "Remove " + name + " from the queue");
      if (position === index) {
        li.className = "current";
        li.setAttribute("aria-current", "true");
      }
      return li;
    }));
    markButtons();
    showState();
  }

  // The lock screen, a headset's buttons, the browser's media hub.
  if ("mediaSession" in navigator) {
    var actions = {
      play: function () { if (audio.paused) toggle(); },
      pause: function () { if (!audio.paused) audio.pause(); },
      nexttrack: next,
      previoustrack: previous,
      seekbackward: function (details) { seekBy(-((details && details.seekOffset) || SEEK_STEP_SECONDS)); },
      seekforward: function (details) { seekBy((details && details.seekOffset) || SEEK_STEP_SECONDS); },
      seekto: function (details) {
        if (details && isFinite(details.seekTime) && audio.getAttribute("src")) audio.currentTime = details.seekTime;
      },
    };
    Object.keys(actions).forEach(function (action) {
      try {
        navigator.mediaSession.setActionHandler(action, actions[action]);
      } catch (error) { /* an action this browser does not know */ }
    });
  }

  // ---- Surviving a full page load (admin pages, a reload): the queue comes back, paused -----------

  function save() {
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ queue: queue, index: index, time: audio.currentTime || 0, radio: radio, unshuffled: unshuffled }));
    } catch (error) { /* storage full or refused: the queue just does not come back */ }
  }

  function restore() {
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null"); } catch (error) { saved = null; }
    if (!saved || !Array.isArray(saved.queue) || !saved.queue.length) return;
    queue = saved.queue;
    index = Math.min(Math.max(saved.index | 0, 0), queue.length - 1);
    if (saved.radio && saved.radio.kind && Array.isArray(saved.radio.heard)) radio = saved.radio;
    if (Array.isArray(saved.unshuffled)) unshuffled = saved.unshuffled;
    audio.dataset.songId = queue[index].id;
    audio.preload = "metadata";
    audio.src = queue[index].src;
    if (saved.time > 0) {
      audio.addEventListener("loadedmetadata", function () { audio.currentTime = saved.time; }, { once: true });
    }
  }

  window.addEventListener("pagehide", function () {
    // Reported first, so that the radio's record of the playing song is in what is saved.
    flushAll();
    save();
  });

  // Logging out ends the session the plays are recorded under: report first, forget the queue, then go.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-logout]")) return;
    try {
      sessionStorage.removeItem(STORAGE_KEY);
      sessionStorage.removeItem("htmx-history-cache");
    } catch (error) { /* nothing stored */ }
    if (!sessions.size) return;
    event.preventDefault();
    audio.pause();
    // Waited for, not a beacon: a beacon could arrive after the logout and be turned away.
    flushAll(true).then(function () { form.submit(); });
  }, true);

  // ---- Navigation: boosted answers replace #page, nothing else ----------------------------------

  function pageElement() { return document.getElementById("page"); }

  document.body.addEventListener("htmx:confirm", function (event) {
    // A download is not a page: let the browser fetch it.
    var element = event.detail.elt;
    if (element && element.matches && element.matches("a[download]")) {
      event.preventDefault();
      window.location.assign(element.href);
    }
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.boosted) return;
    var xhr = detail.xhr;
    var url = xhr.responseURL || detail.pathInfo.requestPath;
    var isGet = (detail.requestConfig.verb || "get").toLowerCase() === "get";
    if ((xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === -1) {
      // Audio, a licence text, a file to download: the browser shows those itself.
      detail.shouldSwap = false;
      if (isGet) window.location.assign(url);
      return;
    }
    var page = new DOMParser().parseFromString(xhr.responseText, "text/html").getElementById("page");
    if (page && page.dataset.playerUser === bar.dataset.user) {
      detail.target = pageElement();
      detail.selectOverride = "#page";
      detail.swapOverride = "outerHTML show:window:top";
      detail.shouldSwap = true;
      // A form answered 400 with its errors is a page to show, not a failure.
      detail.isError = false;
    } else if (xhr.status >= 400) {
      // An error page of its own (403, 404, 500): shown in place of the page, the music goes on.
      detail.target = pageElement();
      detail.selectOverride = "unset";
      detail.swapOverride = "innerHTML show:window:top";
      detail.shouldSwap = true;
    } else {
      // A page for someone else (logged out, or another account in another tab), or not ours at all
      // (the admin): load it for real so its own scripts, header and CSRF token are right.
      detail.shouldSwap = false;
      if (isGet) window.location.assign(url);
      else window.location.reload();
    }
  });

  document.body.addEventListener("htmx:afterSettle", function (event) {
    flushDetached();
    markButtons();
    if (event.detail.boosted) {
      // Screen readers start reading the new page, not the link that has gone.
      var main = document.querySelector("#page main");
      if (main) main.focus({ preventScroll: true });
    }
  });
  document.body.addEventListener("htmx:historyRestore", function () {
    flushDetached();
    markButtons();
  });
  if (window.htmx) window.htmx.onLoad(markButtons);

  document.documentElement.classList.add("has-player");
  loadSettings();
  showSettings();
  restore();
  render();
})();
