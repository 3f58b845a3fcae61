//! Placeholder: the search index is being written.
