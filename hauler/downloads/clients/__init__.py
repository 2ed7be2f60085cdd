"""The download clients, one module each, behind the DownloadClient Protocol."""
