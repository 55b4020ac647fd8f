//! One test binary (faster to build and link than many).

mod cache;
mod contract_v2;
mod hostile;
mod isolation;
mod sandbox;
mod timesheet;
