"""Stories: near-duplicate articles and clusters of one event across outlets and
languages. Pure: no database, no I/O; the caller feeds articles in and stores the
assignments (see docs/stories-eval.md for how well it does)."""
