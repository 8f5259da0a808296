"""Where results go: result files, batch files and their summaries."""
