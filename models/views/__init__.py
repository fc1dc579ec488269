"""Read functions per feature (cosmicpython's views): the queries the console pages, the
APIs and the chat handlers show, so handlers hold no SQL. They read; they never change."""
