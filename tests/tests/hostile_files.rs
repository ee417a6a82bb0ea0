//! Issue 10, points 2 and 6: odd files in a record's place (FIFO, device, socket) and one rule for symlinks inside the root.
