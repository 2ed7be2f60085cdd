"""Downloads handed to external clients: the transfer store, the watch and its hand-over."""
