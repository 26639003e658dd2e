//! Pure credit rules: no tonic, prost, redis or tokio in here.

pub mod buyer;
pub mod buyer_name;
pub mod counter_offer;
pub mod date;
pub mod date_window;
pub mod decision_record;
pub mod exposure;
pub mod ids;
pub mod money;
pub mod policy;
pub mod reason;
pub mod retention;
pub mod scoring;
pub mod text;
pub mod whatif;
