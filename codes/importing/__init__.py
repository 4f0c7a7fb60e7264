"""The import engine, from bytes to staged codes: read lines (`reader`), normalise and
check each value (`text`), spot guessable codes (`analysis`), make random ones
(`generator`), and stage then merge them with a line-by-line report (`engine`)."""
