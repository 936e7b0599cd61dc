// Package client is the Go client of Tycho's HTTP API: New(url, options)
// gives a Client whose Start, Status, Delete and Modify take and return
// the wire types of package api, honour their context, and return an
// *Error carrying the server's message (and the field at fault, or the
// compiler's diagnostics) when the server refuses a call.
//
// FromKubeconfig finds the server as the original Tycho client did,
// through the tycho-api Service of the cluster of a kubeconfig; it is the
// one part of the package that uses client-go.
//
//	c, err := client.New("https://tycho.example.org", client.WithToken(token))
//	res, err := c.Start(ctx, api.StartRequest{Name: "demo", System: api.YAMLSystem(compose)})
//	systems, err := c.Status(ctx, res.SID)
//	_, err = c.Delete(ctx, res.SID)
package client
