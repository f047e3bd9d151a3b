"""End-to-end tests: runs, tools and reports on generated data, as a user chains them."""
