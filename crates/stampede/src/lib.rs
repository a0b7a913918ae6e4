//! Stampede: a flash-sale and red-packet engine (the binary).
