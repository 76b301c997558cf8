//! aggregate (in progress).
