//! Request handlers, one file per resource.

pub mod admin;
pub mod campaigns;
pub mod cluster;
pub mod dashboard;
pub mod grab;
pub mod keyed_grab;
pub mod money_admin;
pub mod ops;
pub mod orders;
pub mod path;
pub mod payments;
pub mod shadow;
