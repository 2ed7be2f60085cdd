"""Archives: safe extraction of zip, tar, 7z and rar files inside the download root."""
