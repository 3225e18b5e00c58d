"""The browser's widgets: spaces list, file table, preview pane, transfers panel."""
