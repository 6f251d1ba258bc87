"""Reading M3U8 and writing M3U8 / XSPF: pure functions, no database."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

from catalog.playlist_files import (
    MAX_LINE_LENGTH,
    XSPF_NAMESPACE,
    PlaylistFileError,
    Track,
    decode_playlist_bytes,
    parse_m3u8,
    write_m3u8,
    write_xspf,
)

NS = {"x": XSPF_NAMESPACE}


def test_it_reads_extinf_entries_with_their_length_and_line():
    parsed = parse_m3u8(
        "#EXTM3U\n"
        "#EXTINF:215,Frogatto - Heroes of Wesnoth\n"
        "/music/frogatto/heroes.ogg\n"
        "\n"
        '#EXTINF:-1 tvg-id="x" group-title="a, b",Ada Trio – Blue Smoke\n'
        "http://example.org/stream\n"
    )

    assert [(e.line, e.names, e.duration) for e in parsed.entries] == [
        (3, ("Frogatto - Heroes of Wesnoth",), 215),
        (6, ("Ada Trio – Blue Smoke",), None),
    ]
    assert parsed.bad_lines == []


def test_an_entry_offers_every_artist_title_split_then_the_bare_title():
    entry = parse_m3u8("#EXTINF:1,The Band - Song - Live\nx.mp3\n").entries[0]

    assert entry.readings() == [
        ("The Band", "Song - Live"),
        ("The Band - Song", "Live"),
        ("", "The Band - Song - Live"),
    ]


@pytest.mark.parametrize(
    ("location", "names"),
    [
        ("/home/ada/Music/Ada Trio - Blue Smoke.flac", ("Ada Trio - Blue Smoke",)),
        ("C:\\Music\\Blue Smoke.mp3", ("Blue Smoke",)),
        ("03 - Ada Trio - Blue Smoke.ogg", ("03 - Ada Trio - Blue Smoke", "Ada Trio - Blue Smoke")),
        ("07 Quiet_Harbour.wav", ("07 Quiet Harbour", "Quiet Harbour")),
        ("1979.mp3", ("1979",)),
        ("https://example.org/music/Mot%C3%B6rhead%20-%20Ace.mp3?x=1#t", ("Motörhead - Ace",)),
        ("file:///srv/m/The%20Staples%20-%20Safety%20Pins.opus", ("The Staples - Safety Pins",)),
        ("relative/path/Song Without Extension", ("Song Without Extension",)),
    ],
    ids=["unix", "windows", "track-number-dash", "track-number-underscores", "number-title", "url", "file-url", "bare"],
)
def test_without_extinf_the_file_name_names_the_song(location, names):
    parsed = parse_m3u8(location + "\n")

    assert parsed.entries[0].names == names
    assert parsed.entries[0].duration is None


def test_the_file_name_is_not_read_when_extinf_names_the_song():
    entry = parse_m3u8("#EXTINF:10,Ada Trio - Blue Smoke\n/m/03 Intro.flac\n").entries[0]

    assert entry.names == ("Ada Trio - Blue Smoke",)


def test_garbage_lines_are_reported_with_their_number_and_reading_goes_on():
    parsed = parse_m3u8(
        "#EXTM3U\n"  # 1
        "#EXTINF:abc,Broken - Length\n"  # 2: bad length
        "first.mp3\n"  # 3: still read, from its file name
        "#EXTINF:5 no comma\n"  # 4: no comma
        "bad\x01line.mp3\n"  # 5: control character
        "#EXTINF:7,Dangling - Entry\n"  # 6: nothing follows before the next #EXTINF
        "#EXTINF:8,Kept - Song\n"  # 7
        "kept.mp3\n"  # 8
        "https://example.org/songs/5/audio\n"  # 9: a URL that names no song
        + "x" * (MAX_LINE_LENGTH + 1)  # 10: too long
        + "\n#EXTINF:9,At - End\n"  # 11: the file ends
    )

    assert [(e.line, e.label) for e in parsed.entries] == [(3, "first"), (8, "Kept - Song")]
    assert [(bad.line, bad.reason) for bad in parsed.bad_lines] == [
        (2, "an #EXTINF line reads #EXTINF:<seconds>,<Artist> - <Title>"),
        (4, "an #EXTINF line reads #EXTINF:<seconds>,<Artist> - <Title>"),
        (5, "the line holds control characters, not text"),
        (6, "no file follows this #EXTINF line"),
        (9, "no song name can be read from this line"),
        (10, f"the line is longer than {MAX_LINE_LENGTH} characters"),
        (11, "no file follows this #EXTINF line"),
    ]
    assert parsed.bad_lines[2].text == "bad\ufffdline.mp3"
    assert len(parsed.bad_lines[5].text) <= 120


@pytest.mark.parametrize("seed", range(20))
def test_random_text_never_raises(seed):
    rng = random.Random(seed)
    alphabet = "#EXTINF:,-–/\\.%0123456789 abcÄö東\t\r\n\x01\x7f\u2028\ufeff"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3000)))

    parsed = parse_m3u8(text)

    assert all(entry.names and all(entry.names) for entry in parsed.entries)
    assert all(bad.line >= 1 for bad in parsed.bad_lines)


def test_only_so_many_entries_are_read():
    parsed = parse_m3u8("".join(f"song {n}.mp3\n" for n in range(12)), max_entries=10)

    assert len(parsed.entries) == 10
    assert parsed.bad_lines[-1].reason == "only the first 10 songs of a file are read"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"#EXTM3U\nsong.mp3\n", "#EXTM3U\nsong.mp3\n"),
        (b"\xef\xbb\xbf#EXTM3U\nMot\xc3\xb6rhead - Ace.mp3\n", "#EXTM3U\nMotörhead - Ace.mp3\n"),
    ],
    ids=["plain", "bom"],
)
def test_utf8_with_or_without_a_bom_is_read(data, text):
    assert decode_playlist_bytes(data) == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b" \n\t\n", "The file is empty."),
        ("#EXTM3U\nsong.mp3\n".encode("utf-16"), "The file is UTF-16 text"),
        (b"ID3\x04\x00\x00\x00\x00\x00#garbage", "This is a binary file, not a playlist."),
        ("#EXTM3U\nMotörhead - Ace.mp3\n".encode("latin-1"), "The file is not UTF-8 text (byte 12 cannot be read)"),
        (b"x" * 2049, "The file is larger than 2 KB"),
    ],
    ids=["empty", "blank", "utf-16", "binary", "latin-1", "too-large"],
)
def test_a_file_that_is_not_utf8_text_is_refused_with_the_reason(data, message):
    with pytest.raises(PlaylistFileError) as error:
        decode_playlist_bytes(data, max_bytes=2048)

    assert str(error.value).startswith(message)


TRACKS = [
    Track("https://musrec.example/songs/1/audio", "Heroes of Wesnoth", "Frogatto", "Battle", 215.4),
    Track("https://musrec.example/songs/2/audio", "Blue Smoke", "Ada Trio", "", None),
]


def test_m3u8_lists_each_song_as_extinf_and_location():
    assert write_m3u8(TRACKS, title="Sunday") == (
        "#EXTM3U\n"
        "#PLAYLIST:Sunday\n"
        "#EXTINF:215,Frogatto - Heroes of Wesnoth\n"
        "https://musrec.example/songs/1/audio\n"
        "#EXTINF:-1,Ada Trio - Blue Smoke\n"
        "https://musrec.example/songs/2/audio\n"
    )


def test_a_line_break_in_a_name_cannot_start_a_line_of_its_own():
    track = Track("https://musrec.example/songs/3/audio", "Evil\nhttp://evil.example/x.mp3", "A\r\nB\u2028C\x00", "", 3)

    written = write_m3u8([track], title="Mix\n#EXTINF:1,Injected")

    assert written.splitlines() == [
        "#EXTM3U",
        "#PLAYLIST:Mix #EXTINF:1,Injected",
        "#EXTINF:3,A B C - Evil http://evil.example/x.mp3",
        "https://musrec.example/songs/3/audio",
    ]


def test_what_m3u8_writes_reads_back_as_the_same_songs():
    parsed = parse_m3u8(write_m3u8(TRACKS, title="Sunday"))

    assert [(e.readings()[0], e.duration) for e in parsed.entries] == [
        (("Frogatto", "Heroes of Wesnoth"), 215),
        (("Ada Trio", "Blue Smoke"), None),
    ]
    assert parsed.bad_lines == []


def test_xspf_is_valid_xml_with_each_track():
    root = ET.fromstring(write_xspf(TRACKS, title="Sunday", annotation="For slow\nmornings", location="https://x/s/"))

    assert root.tag == f"{{{XSPF_NAMESPACE}}}playlist"
    assert root.get("version") == "1"
    assert root.findtext("x:title", namespaces=NS) == "Sunday"
    assert root.findtext("x:annotation", namespaces=NS) == "For slow\nmornings"
    tracks = root.findall("x:trackList/x:track", NS)
    assert [
        (
            t.findtext("x:location", namespaces=NS),
            t.findtext("x:title", namespaces=NS),
            t.findtext("x:creator", namespaces=NS),
            t.findtext("x:album", namespaces=NS),
            t.findtext("x:duration", namespaces=NS),
        )
        for t in tracks
    ] == [
        ("https://musrec.example/songs/1/audio", "Heroes of Wesnoth", "Frogatto", "Battle", "215400"),
        ("https://musrec.example/songs/2/audio", "Blue Smoke", "Ada Trio", None, None),
    ]


def test_xspf_escapes_markup_and_drops_what_xml_cannot_hold():
    track = Track("https://x/songs/1/audio?a=1&b=2", "<b>Rock & Roll</b>\x01\x0b", 'Ada "Trio"\ufffe', "", 1)

    data = write_xspf([track], title="</title><script>", annotation="\x00ok")

    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b"<script>" not in data
    root = ET.fromstring(data)
    assert root.findtext("x:title", namespaces=NS) == "</title><script>"
    assert root.findtext("x:annotation", namespaces=NS) == "ok"
    element = root.find("x:trackList/x:track", NS)
    assert element.findtext("x:title", namespaces=NS) == "<b>Rock & Roll</b>"
    assert element.findtext("x:creator", namespaces=NS) == 'Ada "Trio"'
    assert element.findtext("x:location", namespaces=NS) == "https://x/songs/1/audio?a=1&b=2"
