"""The browser explorer (Solara): the model stepped month by month, its controls and the donor's panel."""
