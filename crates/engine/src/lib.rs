//! weft engine
