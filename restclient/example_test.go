package restclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/salesgraph/salesgraph/restclient"
)

func Example() {
	// A stand-in for the CRM, answering as its documentation shows, with
	// the loose typing real responses have.
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer demo" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"status": 403, "description": "Niepoprawne dane logowania"}`)
			return
		}
		io.WriteString(w, `{"status": 200, "data": {"list": [
			{"id": 1234, "id_user": "7", "id_comapny": "77", "status": "finished",
			 "start_date": "2024-03-01 10:00:00", "address": "ul. Marsza\u0142kowska 1",
			 "visits": "5", "gps_lat": "52.2297", "gps_lng": "21.0122", "type": "standard"},
			{"id": 1235, "id_user": 7, "status": "saved", "start_date": "0000-00-00 00:00:00",
			 "gps_lat": "", "gps_lng": ""}]}}`)
	}))
	defer crm.Close()

	client, err := restclient.New(crm.URL, restclient.WithTimeout(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}

	// Each call forwards the credentials its context carries.
	ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer demo"}})
	meetings, err := client.UserMeetings(ctx, 7)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range meetings {
		// A count the upstream left out is no count, not zero.
		views := "views not counted"
		if m.Visits.Valid {
			views = fmt.Sprintf("%d views", m.Visits.N)
		}
		fmt.Printf("meeting %s by user %d: %s, %s, started %s, at %v\n",
			m.ID, m.UserID, m.Status, views, m.StartDate.Format(time.RFC3339), m.Location)
	}

	// Without them the API answers 403.
	_, err = client.UserMeetings(context.Background(), 7)
	var apiErr *restclient.APIError
	if errors.As(err, &apiErr) && restclient.IsForbidden(err) {
		fmt.Printf("%s: %d %q\n", apiErr.Endpoint, apiErr.Code(), apiErr.Description)
	}

	// Output:
	// meeting 1234 by user 7: finished, 5 views, started 2024-03-01T10:00:00Z, at &{52.2297 21.0122}
	// meeting 1235 by user 7: saved, views not counted, started 0001-01-01T00:00:00Z, at <nil>
	// /api/v1/users/{id}/meetings: 403 "Niepoprawne dane logowania"
}
