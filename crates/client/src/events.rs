//! Events and webhooks.
