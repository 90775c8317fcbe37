"""Progress billing: the domain package shared by every function (shipped as a SAM layer)."""
