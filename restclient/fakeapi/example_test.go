package fakeapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// Fetch the last page of a user's threads, as a client under test would, and
// check it against the dataset.
func Example() {
	s := fakeapi.NewServer(fakeapi.WithThreadsPerUser(5), fakeapi.WithPerPage(2))
	defer s.Close()

	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/users/1/threads?page=3", nil)
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			List []struct {
				ID string `json:"id"`
			} `json:"list"`
			Pagination map[string]int `json:"pagination"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		panic(err)
	}

	want, _ := s.Dataset().User(1)
	fmt.Println(resp.Status, len(body.Data.List), body.Data.List[0].ID == want.Threads[4].ID)
	fmt.Println(body.Data.Pagination)
	fmt.Println(s.CallsTo("/api/v1/users/*/threads"))
	// Output:
	// 200 OK 1 true
	// map[page:3 pages_count:3 per_page:2 total:5]
	// 1
}

// Make the first request to a user's meetings fail, as a retrying client
// would need.
func ExampleServer_Inject() {
	s := fakeapi.NewServer()
	defer s.Close()
	s.Inject(fakeapi.Fault{Path: "/api/v1/users/*/meetings", Kind: fakeapi.FaultStatus, Status: 503, Times: 1})

	client := &http.Client{Timeout: 10 * time.Second}
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/users/7/meetings", nil)
		req.Header.Set("Authorization", fakeapi.DefaultToken)
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	// Output:
	// 503 Service Unavailable
	// 200 OK
}

// Prove that three requests are in flight at the same time: the gate answers
// none of them until all three have arrived.
func ExampleServer_Gate() {
	s := fakeapi.NewServer()
	defer s.Close()
	gate := s.Gate(3)

	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for id := 1; id <= 3; id++ {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/users/%d/meetings", s.URL, id), nil)
			req.Header.Set("Authorization", fakeapi.DefaultToken)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	fmt.Println(gate.Wait(10 * time.Second))
	wg.Wait()
	fmt.Println(s.Calls(), s.MaxInFlight())
	// Output:
	// true
	// 3 3
}

// Compute expected values without a server.
func ExampleNewDataset() {
	d := fakeapi.NewDataset(fakeapi.WithUsers(2), fakeapi.WithMeetingsPerUser(3))
	u, _ := d.User(2)
	fmt.Println(len(d.Users), len(u.Meetings), len(u.Threads))
	for _, m := range u.Meetings {
		fmt.Println(m.UserID, m.Status)
	}
	// Output:
	// 2 3 45
	// 2 finished
	// 2 saved
	// 2 interrupted
}
