//! Integration tests of the server: the API (and pages) against real databases, SQLite and
//! PostgreSQL, through the same router the binary serves.

mod support;

mod api;
mod cases;
mod complaints;
mod conflicts;
mod data;
mod development;
mod events;
mod org;
mod partners;
mod sales;
mod timed;
mod trust;
mod visibility;
mod web;
