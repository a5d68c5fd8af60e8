package graph

import "strings"

// UpstreamList is what the tests that range over every declared list need
// of its declaration (upstream.go).
type UpstreamList struct {
	Name     string // restclient's
	Endpoint string
	Field    string // the connection field on User, e.g. "threads"
	Paged    bool
	Loaders  []string // the loaders' names, as metrics label them
}

// UpstreamLists are the declared lists, in declaration order.
func UpstreamLists() []UpstreamList {
	out := make([]UpstreamList, len(lists))
	for i, d := range lists {
		info := d.info()
		typ, field, _ := strings.Cut(info.field, ".")
		if typ != "User" {
			panic("a list served on " + typ + ": the tests ask for them on User")
		}
		out[i] = UpstreamList{Name: info.Name, Endpoint: info.Endpoint, Field: field, Paged: info.paged, Loaders: []string{info.pagesLoader}}
		if info.paged {
			out[i].Loaders = append(out[i].Loaders, info.allLoader)
		}
	}
	return out
}
