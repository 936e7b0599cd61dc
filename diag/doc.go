// Package diag declares diagnostics: the user mistakes, dropped keys and
// approximations that Tycho reports with a position, a stable code and a
// hint, and their text and JSON forms.
package diag
