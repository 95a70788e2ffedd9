//! Test support for the hrsync workspace: the Remote API simulator and shared fixtures.

pub mod bamboo_sim;
pub mod bamboo_world;
pub mod brownfield;
pub mod drop_proxy;
pub mod fixtures;
pub mod remote_sim;
pub mod rest_sim;
pub mod world;
