"""Musrec's Django-free core: numpy in, numpy out.

Decoding audio (``decoding``), the network's input (``mel``) and the descriptors people read
(``descriptors``); the tagging network (``musicnn``, ``tagger``) and the analysis that runs it
(``analysis``); playlist rules (``rules``), unit vectors (``vectors``), taste centres (``taste``),
paths between songs (``paths``), retrieval metrics (``evaluation``) and spectrogram pictures
(``pictures``); genre models trained on a library's tags (``genre_training``), their metrics and
baselines (``genre_report``) and charts (``charts``). Nothing here imports Django, the apps, or the
Django side of ``recommender`` (import-linter checks it), so the core runs the same in a web request,
an RQ worker on a GPU machine, a benchmark or a notebook.
"""
