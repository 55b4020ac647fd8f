//! One test binary (faster to build and link than many).

mod cache;
mod hostile;
mod isolation;
mod sandbox;
mod timesheet;
