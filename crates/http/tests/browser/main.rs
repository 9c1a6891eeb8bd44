//! The console and the user pages in a real headless Chromium, against a
//! real server and database. One binary, so it links once.

mod console_ops;
mod console_templates;
mod harness;
mod journey;
mod pages;
mod user_pages;
