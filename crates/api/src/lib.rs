//! HTTP API of Stampede (axum): app(state) -> Router, handlers, auth, one AppError.
