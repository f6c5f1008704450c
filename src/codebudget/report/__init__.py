"""Reports: tables, plots and a self-contained HTML page built from the store."""
