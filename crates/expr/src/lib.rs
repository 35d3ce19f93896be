//! weft expression language (under construction).
