package fakeapi

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file draws a dataset: its companies and their contact persons, and
// each user's threads and meetings, from one random stream (gen), so that
// equal options give byte-identical data.

// shape is the part of the configuration a dataset depends on.
type shape struct {
	users, meetings, threads int
	clean                    bool
}

const wireTime = "2006-01-02 15:04:05"

var (
	windowStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
)

type city struct {
	name     string
	postal   string // first two digits of its postal codes
	lat, lng float64
}

var cities = []city{
	{"Warszawa", "00", 52.2297, 21.0122}, {"Kraków", "31", 50.0647, 19.9450},
	{"Łódź", "90", 51.7592, 19.4560}, {"Wrocław", "50", 51.1079, 17.0385},
	{"Poznań", "61", 52.4064, 16.9252}, {"Gdańsk", "80", 54.3520, 18.6466},
	{"Szczecin", "70", 53.4285, 14.5528}, {"Bydgoszcz", "85", 53.1235, 18.0084},
	{"Lublin", "20", 51.2465, 22.5684}, {"Białystok", "15", 53.1325, 23.1688},
	{"Katowice", "40", 50.2649, 19.0238}, {"Gdynia", "81", 54.5189, 18.5305},
	{"Częstochowa", "42", 50.8118, 19.1203}, {"Radom", "26", 51.4027, 21.1471},
	{"Rzeszów", "35", 50.0412, 21.9991}, {"Toruń", "87", 53.0138, 18.5984},
	{"Kielce", "25", 50.8661, 20.6286}, {"Olsztyn", "10", 53.7784, 20.4801},
	{"Opole", "45", 50.6751, 17.9213}, {"Zielona Góra", "65", 51.9356, 15.5062},
}

var (
	streets = []string{
		"ul. Marszałkowska", "ul. Piotrkowska", "ul. Długa", "ul. Kościuszki", "ul. Mickiewicza",
		"ul. Słowackiego", "ul. 3 Maja", "ul. Jana Pawła II", "al. Jerozolimskie", "al. Niepodległości",
		"ul. Grunwaldzka", "ul. Świętokrzyska", "ul. Żeromskiego", "ul. Polna", "ul. Leśna",
		"ul. Ogrodowa", "pl. Wolności", "ul. Szeroka", "ul. Źródlana", "os. Kościuszkowskie",
	}
	maleNames = []string{
		"Jan", "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Marcin", "Grzegorz",
		"Łukasz", "Adam", "Zbigniew", "Jerzy", "Mateusz", "Wojciech", "Bartłomiej", "Rafał", "Kamil",
	}
	femaleNames = []string{
		"Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Magdalena",
		"Joanna", "Aleksandra", "Monika", "Zofia", "Beata", "Dorota", "Żaneta", "Jadwiga",
	}
	// Masculine and feminine forms.
	surnames = [][2]string{
		{"Kowalski", "Kowalska"}, {"Nowak", "Nowak"}, {"Wiśniewski", "Wiśniewska"}, {"Wójcik", "Wójcik"},
		{"Kowalczyk", "Kowalczyk"}, {"Kamiński", "Kamińska"}, {"Lewandowski", "Lewandowska"},
		{"Zieliński", "Zielińska"}, {"Szymański", "Szymańska"}, {"Woźniak", "Woźniak"},
		{"Dąbrowski", "Dąbrowska"}, {"Kozłowski", "Kozłowska"}, {"Jankowski", "Jankowska"},
		{"Mazur", "Mazur"}, {"Kwiatkowski", "Kwiatkowska"}, {"Krawczyk", "Krawczyk"},
		{"Piotrowski", "Piotrowska"}, {"Grabowski", "Grabowska"}, {"Pawłowski", "Pawłowska"},
		{"Michalski", "Michalska"}, {"Król", "Król"}, {"Wieczorek", "Wieczorek"},
		{"Jabłoński", "Jabłońska"}, {"Wróbel", "Wróbel"}, {"Majewski", "Majewska"},
		{"Olszewski", "Olszewska"}, {"Stępień", "Stępień"}, {"Malinowski", "Malinowska"},
		{"Górski", "Górska"}, {"Sikora", "Sikora"}, {"Chmielewski", "Chmielewska"}, {"Żak", "Żak"},
	}
	legalForms   = []string{"Sp. z o.o.", "S.A.", "Sp. j.", "Sp. k.", "s.c."}
	brandHeads   = []string{"Bud", "Agro", "Trans", "Inter", "Euro", "Pol", "Elektro", "Stal", "Drew", "Med", "Info", "Eko"}
	brandTails   = []string{"pol", "mex", "bud", "sped", "tex", "soft", "max", "-Mar", "-Dom", "-Serwis"}
	tradeKinds   = []string{"Przedsiębiorstwo Handlowe", "Hurtownia Budowlana", "Biuro Rachunkowe", "Zakład Stolarski", "Piekarnia", "Drukarnia", "Kancelaria Prawna", "Szkoła Językowa", "Przychodnia"}
	tradeMarks   = []string{"Zorza", "Słoneczko", "Jantar", "Pod Lipami", "Orzeł", "Bałtyk", "Wisła", "Pszczółka", "Skarbiec", "Złoty Kłos"}
	threadTopics = []string{
		"Wdrożenie CRM", "Dostawa laptopów", "Szkolenie z obsługi", "Licencje roczne", "Modernizacja sieci",
		"Umowa serwisowa", "Audyt bezpieczeństwa", "Rozbudowa magazynu", "Leasing floty", "Kampania marketingowa",
		"Odnowienie umowy", "Integracja z ERP",
	}
	sources    = []string{"Polecenie", "Strona WWW", "Targi", "Telefon", "LinkedIn"}
	industries = []string{"Budownictwo", "Handel", "Produkcja", "Usługi", "Medycyna", "Transport", "Rolnictwo"}
	priorities = []string{"niski", "średni", "wysoki"}
)

type company struct {
	id, name string
	address  string
	city     int
	lat, lng string
	persons  []person
}

type person struct{ id, name string }

// gen carries the random stream; every draw goes through it in a fixed
// order, which is what makes equal options give byte-identical data.
type gen struct {
	r     *rand.Rand
	clean bool
}

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) personName() string {
	s := surnames[g.r.IntN(len(surnames))]
	if g.r.IntN(2) == 0 {
		return g.pick(maleNames) + " " + s[0]
	}
	return g.pick(femaleNames) + " " + s[1]
}

func (g *gen) companyName() string {
	form := g.pick(legalForms)
	switch g.r.IntN(10) {
	case 0, 1, 2:
		return surnames[g.r.IntN(len(surnames))][0] + " " + form
	case 3:
		return surnames[g.r.IntN(len(surnames))][0] + " i Wspólnicy " + form
	case 4, 5, 6:
		return g.pick(brandHeads) + g.pick(brandTails) + " " + form
	case 7, 8:
		return g.pick(tradeKinds) + " „" + g.pick(tradeMarks) + "”"
	default:
		// ASCII quotes and an ampersand: real names have them, and they
		// are what a hand-written JSON encoder gets wrong.
		a, b := surnames[g.r.IntN(len(surnames))][0], surnames[g.r.IntN(len(surnames))][0]
		return a + ` & ` + b + ` "` + g.pick(tradeMarks) + `" s.c.`
	}
}

// address returns an address in the given city and its coordinates.
func (g *gen) address(c int) (addr, lat, lng string) {
	ct := cities[c]
	num := strconv.Itoa(1 + g.r.IntN(180))
	if g.r.IntN(5) == 0 {
		num += "A"
	}
	if g.r.IntN(2) == 0 {
		num += "/" + strconv.Itoa(1+g.r.IntN(60))
	}
	addr = fmt.Sprintf("%s %s, %s-%03d %s", g.pick(streets), num, ct.postal, g.r.IntN(1000), ct.name)
	return addr, coord(ct.lat + (g.r.Float64()-0.5)*0.08), coord(ct.lng + (g.r.Float64()-0.5)*0.08)
}

// coord renders a coordinate to four decimals, as the documentation's
// "52.2297" does, with no trailing zeros so that parsing and reprinting it
// gives the same text.
func coord(x float64) string {
	return strconv.FormatFloat(math.Round(x*1e4)/1e4, 'f', -1, 64)
}

// between returns a time uniformly in [lo, hi), to the second.
func (g *gen) between(lo, hi time.Time) time.Time {
	return lo.Add(time.Duration(g.r.Int64N(int64(hi.Sub(lo)/time.Second))) * time.Second)
}

func clamp(t time.Time) time.Time {
	if t.After(windowEnd) {
		return windowEnd
	}
	return t
}

// quirk decides a record's quirk. The draws are made whether or not quirks
// are wanted, so WithCleanData changes nothing but the quirks themselves.
func (g *gen) quirk(fields int) (q float64, field int) {
	q, field = g.r.Float64(), g.r.IntN(fields)
	if g.clean {
		q = 1
	}
	return q, field
}

type threadGen struct {
	Thread
	created time.Time
	company *company
	person  person
}

type meetingGen struct {
	user  int
	start time.Time
}

func (g *gen) companies(n int) []*company {
	out := make([]*company, n)
	cid := 200 + g.r.IntN(800)
	pid := 5000 + g.r.IntN(5000)
	for i := range out {
		c := &company{id: strconv.Itoa(cid), name: g.companyName(), city: g.r.IntN(len(cities))}
		c.address, c.lat, c.lng = g.address(c.city)
		for range 1 + g.r.IntN(3) {
			c.persons = append(c.persons, person{id: strconv.Itoa(pid), name: g.personName()})
			pid += 1 + g.r.IntN(7)
		}
		out[i] = c
		cid += 1 + g.r.IntN(5)
	}
	return out
}

// slots returns each user index n times, shuffled, so that records created
// one after another belong to different users as they would in a real CRM.
func (g *gen) slots(users, n int) []int {
	s := make([]int, 0, users*n)
	for u := range users {
		for range n {
			s = append(s, u)
		}
	}
	g.r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func (g *gen) threads(sh shape, companies []*company) [][]*threadGen {
	owners := g.slots(sh.users, sh.threads)
	created := make([]time.Time, len(owners))
	for i := range created {
		// During a long working day: people create threads, not cron jobs.
		day := truncDay(g.between(windowStart, time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)))
		created[i] = g.between(day.Add(7*time.Hour), day.Add(19*time.Hour))
	}
	sort.Slice(created, func(i, j int) bool { return created[i].Before(created[j]) })

	perUser := make([][]*threadGen, sh.users)
	id := 100 + g.r.IntN(900)
	for i, owner := range owners {
		c := companies[g.r.IntN(len(companies))]
		p := c.persons[g.r.IntN(len(c.persons))]
		t := &threadGen{created: created[i], company: c, person: p}
		topic := g.pick(threadTopics)
		value := 0.0
		if g.r.IntN(20) != 0 { // a few threads are not priced yet
			value = float64(50_000+g.r.Int64N(20_000_000)) / 100
		}
		t.Thread = Thread{
			ID:            strconv.Itoa(id),
			Number:        fmt.Sprintf("%06d", i+1),
			Name:          topic + " – " + c.name,
			UserID:        int64(owner + 1),
			CompanyID:     c.id,
			PersonID:      p.id,
			Status:        weighted(g, threadStatuses, []int{35, 25, 20, 15, 5}),
			Description:   g.description(topic, p.name),
			EndDate:       g.endDate(created[i]).Format(wireTime),
			ContractValue: value,
			Fields:        g.fields(),
			CreatedAt:     created[i].Format(wireTime),
			ModifiedAt:    clamp(created[i].Add(time.Duration(g.r.Int64N(90*24*3600)) * time.Second)).Format(wireTime),
		}
		switch q, field := g.quirk(3); {
		case q < quirkThreadZeroEndDate:
			t.EndDate = zeroDate
		case q < quirkThreadZeroEndDate+quirkThreadEmptyDate:
			*[]*string{&t.EndDate, &t.CreatedAt, &t.ModifiedAt}[field] = ""
		}
		perUser[owner] = append(perUser[owner], t)
		id += 1 + g.r.IntN(4)
	}
	return perUser
}

// endDate is a thread's planned end: two weeks to eight months after it was
// created, but within the window.
func (g *gen) endDate(created time.Time) time.Time {
	lo := truncDay(created).AddDate(0, 0, 14)
	hi := truncDay(created).AddDate(0, 8, 0)
	if hi.After(windowEnd) {
		hi = truncDay(windowEnd)
	}
	if !lo.Before(hi) {
		return hi
	}
	return truncDay(g.between(lo, hi))
}

func truncDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func weighted(g *gen, values []string, weights []int) string {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.r.IntN(total)
	for i, w := range weights {
		if n < w {
			return values[i]
		}
		n -= w
	}
	return values[len(values)-1]
}

func (g *gen) description(topic, contact string) string {
	switch g.r.IntN(6) {
	case 0:
		return ""
	case 1:
		return "Osoba kontaktowa: " + contact + ". Klient rozważa: " + strings.ToLower(topic) + "."
	case 2:
		return "Spotkanie wstępne odbyte, czekamy na decyzję zarządu.\nKontakt: " + contact
	case 3:
		return "Oferta wysłana. Negocjacje rabatu (do " + strconv.Itoa(5+g.r.IntN(16)) + "%)."
	case 4:
		return "Klient prosi o wycenę w dwóch wariantach.\n\t- wariant podstawowy\n\t- wariant rozszerzony"
	default:
		return "Decyzja po " + strconv.Itoa(1+g.r.IntN(28)) + ". dniu miesiąca; budżet zatwierdzony."
	}
}

// fields renders a thread's additional fields. Their shape is undocumented,
// so a few carry numbers and one is an empty list: a client has to pass
// them through, not interpret them.
func (g *gen) fields() json.RawMessage {
	if g.r.IntN(4) == 0 {
		return json.RawMessage("[]")
	}
	b := []byte(`[{"name":"Źródło","value":`)
	b = appendString(b, g.pick(sources))
	b = append(b, '}')
	if g.r.IntN(2) == 0 {
		b = append(b, `,{"name":"Branża","value":`...)
		b = appendString(b, g.pick(industries))
		b = append(b, '}')
	}
	if g.r.IntN(3) == 0 {
		b = append(b, `,{"name":"Liczba stanowisk","value":`...)
		b = strconv.AppendInt(b, int64(1+g.r.IntN(250)), 10)
		b = append(b, '}')
	}
	if g.r.IntN(4) == 0 {
		b = append(b, `,{"name":"Priorytet","value":`...)
		b = appendString(b, g.pick(priorities))
		b = append(b, '}')
	}
	return json.RawMessage(append(b, ']'))
}

func (g *gen) meetings(sh shape, d *Dataset, companies []*company, threads [][]*threadGen) {
	slots := g.slots(sh.users, sh.meetings)
	ms := make([]meetingGen, len(slots))
	last := time.Date(2026, 12, 18, 0, 0, 0, 0, time.UTC)
	for i, u := range slots {
		day := truncDay(g.between(windowStart.Add(24*time.Hour), last))
		switch day.Weekday() { // meetings happen on working days
		case time.Saturday:
			day = day.AddDate(0, 0, 2)
		case time.Sunday:
			day = day.AddDate(0, 0, 1)
		}
		start := day.Add(time.Duration(8+g.r.IntN(9))*time.Hour + time.Duration(15*g.r.IntN(4))*time.Minute)
		ms[i] = meetingGen{user: u, start: start}
	}
	// Ids grow with time, as an auto-increment key would.
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].start.Before(ms[j].start) })

	id := int64(1000 + g.r.IntN(9000))
	for _, mg := range ms {
		u := &d.Users[mg.user]
		m := g.meeting(len(u.Meetings), mg, companies, threads[mg.user])
		m.ID = id
		m.UserID = u.ID
		u.Meetings = append(u.Meetings, m)
		id += 1 + int64(g.r.IntN(3))
	}
}

// meeting generates a user's n-th meeting. The first three of every user are
// pinned so that any one user shows every status, both types, and a meeting
// with and without a thread.
func (g *gen) meeting(n int, mg meetingGen, companies []*company, threads []*threadGen) Meeting {
	status := weighted(g, meetingStatuses, []int{70, 18, 12})
	typ := weighted(g, meetingTypes, []int{15, 85})
	withThread := g.r.IntN(100) < 85
	switch n {
	case 0:
		status, typ = "finished", "standard"
	case 1:
		status, typ = "saved", "anonymous"
	case 2:
		status, withThread = "interrupted", false
	}

	// Only threads that existed when the meeting took place.
	open := sort.Search(len(threads), func(i int) bool { return threads[i].created.After(mg.start) })
	var thread *threadGen
	pick := g.r.IntN(max(open, 1))
	if withThread && open > 0 {
		thread = threads[pick]
	}

	var c *company
	var p person
	if thread != nil {
		c, p = thread.company, thread.person
		if g.r.IntN(5) == 0 {
			p = c.persons[g.r.IntN(len(c.persons))]
		}
	} else {
		c = companies[g.r.IntN(len(companies))]
		p = c.persons[g.r.IntN(len(c.persons))]
	}

	addr, lat, lng := c.address, c.lat, c.lng
	if g.r.IntN(4) == 0 {
		addr, lat, lng = g.address(c.city)
	}

	dur := time.Duration(30+15*g.r.IntN(9)) * time.Minute
	if status == "interrupted" {
		dur = time.Duration(5+g.r.IntN(21)) * time.Minute
	}
	end := mg.start.Add(dur)
	created := end.Add(time.Duration(60+g.r.IntN(1740)) * time.Second)
	modified := created
	var visits, owner, copies int64
	switch status {
	case "finished":
		modified = created.Add(time.Duration(g.r.Int64N(10*24*3600)) * time.Second)
		owner, copies = int64(g.r.IntN(9)), int64(g.r.IntN(6))
		visits = owner + copies + int64(g.r.IntN(5))
	case "saved":
		modified = created.Add(time.Duration(g.r.IntN(7200)) * time.Second)
	}

	m := Meeting{
		Hash:        fmt.Sprintf("%016x%016x", g.r.Uint64(), g.r.Uint64()),
		PersonID:    p.id,
		CompanyID:   c.id,
		Status:      status,
		StartDate:   mg.start.Format(wireTime),
		EndDate:     end.Format(wireTime),
		Address:     addr,
		Visits:      visits,
		VisitsOwner: owner,
		VisitsCopy:  copies,
		GPSLat:      lat,
		GPSLng:      lng,
		Type:        typ,
		CreatedAt:   clamp(created).Format(wireTime),
		ModifiedAt:  clamp(modified).Format(wireTime),
	}
	if thread != nil {
		m.ThreadID = thread.ID
	}
	if typ == "anonymous" { // nobody identified the recipient
		m.PersonID = ""
	}
	dates := []*string{&m.StartDate, &m.EndDate, &m.CreatedAt, &m.ModifiedAt}
	switch q, field := g.quirk(len(dates)); {
	case q < quirkMeetingNoGPS:
		m.GPSLat, m.GPSLng = "", ""
	case q < quirkMeetingNoGPS+quirkMeetingEmptyDate:
		*dates[field] = ""
	case q < quirkMeetingNoGPS+quirkMeetingEmptyDate+quirkMeetingzeroDate:
		*dates[field] = zeroDate
	}
	return m
}
