"""The OpenSubsonic API (``/rest/…``): Musrec in Subsonic players (Symfonium, DSub, Tempo, Feishin, …), issue 12."""
