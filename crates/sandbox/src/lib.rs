//! weft sandbox (under construction).
