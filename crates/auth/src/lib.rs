//! weft auth (under construction).
