package gqlhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

func ExampleNew() {
	srv, err := gqlhttp.New(testschema.New(&testschema.Resolver{}), gqlhttp.Options{MaxDepth: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.RequestID = func(*http.Request) string { return "req-1" }
	srv.OnRefused = func(_ context.Context, errs gqlerror.List) {
		fmt.Println("refused:", errs[0].Extensions["code"])
	}
	post := func(query string) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":`+jsonString(query)+`}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("X-Request-Id"), w.Body.String())
	}
	post(`{ item(id: "1") { name } }`)
	post(`{ item(id: "1") { children { children { id } } } }`)
	r := httptest.NewRequest(http.MethodPut, "/graphql", nil)
	srv.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// 200 req-1 {"data":{"item":{"name":"item 1"}}}
	// 400 req-1 {"errors":[{"message":"the operation nests fields 4 levels deep; at most 3 are allowed (fields inside fragments count)","locations":[{"line":1,"column":1}],"extensions":{"code":"DEPTH_LIMIT_EXCEEDED","limit":3}}]}
	// refused: METHOD_NOT_ALLOWED
}

func ExampleOptions_Validate() {
	err := gqlhttp.Options{MaxDepth: -1, AllowedOrigins: []string{"https://app.example.com/"}}.Validate(testschema.New(&testschema.Resolver{}).Schema())
	fmt.Println(err)
	// Output:
	// MaxDepth must be positive, got -1; AllowedOrigins: "https://app.example.com/" is not an origin like https://app.example.com (lower case, no path)
}
