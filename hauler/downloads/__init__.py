"""Downloads: link detection, safety, client selection and the download clients."""
