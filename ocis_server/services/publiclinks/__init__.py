"""publiclinks: the landing pages of public links (`/s/<token>`) and of private links
(`/f/<fileid>`, after login): server-rendered HTML, no JavaScript."""
