package seed

import "strings"

// Given names by gender. gofakeit's first-name list does not say which
// names are male or female, and a "Mrs. Robert" reads as a bug in a demo,
// so given names come from these lists (drawn with the patient's gofakeit
// instance); family names, streets and cities come from gofakeit itself.
var maleGiven = []string{
	"James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph",
	"Thomas", "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark",
	"Donald", "Steven", "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian",
	"George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan", "Jacob",
	"Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott",
	"Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Frank",
	"Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Henry", "Adam",
	"Nathan", "Peter", "Zachary", "Walter", "Kyle", "Harold", "Carl", "Arthur",
	"Ethan", "Noah", "Liam", "Lucas", "Mason", "Logan", "Elijah", "Oliver",
	"Carlos", "Luis", "Miguel", "Wei", "Hiroshi", "Ahmed", "Omar", "Tariq",
}

var femaleGiven = []string{
	"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan",
	"Jessica", "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra",
	"Ashley", "Kimberly", "Emily", "Donna", "Michelle", "Carol", "Amanda",
	"Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura",
	"Cynthia", "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela",
	"Emma", "Nicole", "Helen", "Samantha", "Katherine", "Christine", "Debra",
	"Rachel", "Carolyn", "Janet", "Catherine", "Maria", "Heather", "Diane",
	"Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren",
	"Christina", "Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah",
	"Sophia", "Isabella", "Ava", "Mia", "Charlotte", "Amelia", "Harper", "Grace",
	"Mei", "Yuki", "Fatima", "Aisha", "Priya", "Lucia", "Rosa", "Ana",
}

// Edge-case names (see doc.go). Written in NFC: every accented letter is a
// single precomposed code point, which the tests check.
var (
	accentedMaleGiven   = []string{"José", "Björn", "Noël", "Jürgen", "André", "Ramón", "Søren", "François"}
	accentedFemaleGiven = []string{"Zoë", "Renée", "Chloé", "Inés", "Mónica", "Anaïs", "Élodie", "Begoña"}
	accentedFamily      = []string{"Nuñez", "Müller", "García", "Pérez", "Gómez", "Fernández", "Jiménez", "Lefèvre", "Sørensen", "García-López"}
	apostropheFamily    = []string{"O'Brien", "D'Angelo", "O'Connor", "O'Neill", "D'Souza", "O'Malley", "Dell'Acqua"}
	spanishFamily       = map[string]bool{"Nuñez": true, "García": true, "Pérez": true, "Gómez": true, "Fernández": true, "Jiménez": true, "García-López": true}
)

// Shared family names: edge-case patients carry one of these so a family
// search returns several patients.
const (
	familySmith   = "Smith"
	familyJohnson = "Johnson"
)

// specialtyDef: practitioner specialties and how many of each the hospital
// employs (generator choice; Practitioner k gets the k-th slot).
type specialtyDef struct {
	Name  string
	Count int
}

// Specialty indexes into specialties.
const (
	spFamily = iota
	spInternal
	spPediatrics
	spEmergency
	spHospitalist
	spCardiology
	spObstetrics
	specialtyCount
)

var specialties = [specialtyCount]specialtyDef{
	spFamily:      {"Family medicine", 5},
	spInternal:    {"Internal medicine", 4},
	spPediatrics:  {"Pediatrics", 4},
	spEmergency:   {"Emergency medicine", 4},
	spHospitalist: {"Hospital medicine", 2},
	spCardiology:  {"Cardiology", 1},
	spObstetrics:  {"Obstetrics and gynecology", 2},
}

// emailFold maps the accented letters of the edge-case names to ASCII so
// e-mail local parts stay plain ASCII.
var emailFold = strings.NewReplacer(
	"á", "a", "à", "a", "ä", "a", "â", "a", "é", "e", "è", "e", "ë", "e", "ê", "e",
	"í", "i", "ï", "i", "ó", "o", "ö", "o", "ø", "o", "ú", "u", "ü", "u", "ñ", "n",
	"ç", "c", "Á", "a", "É", "e", "Ö", "o", "Ü", "u", "Ø", "o", "'", "", " ", "",
)

// emailLocal turns a name into an e-mail local part: lower-case ASCII
// letters, digits, dots and hyphens only.
func emailLocal(given, family string) string {
	s := strings.ToLower(emailFold.Replace(given) + "." + emailFold.Replace(family))
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			b = append(b, c)
		}
	}
	return string(b)
}

// emailDomains are reserved example domains (RFC 2606): generated
// addresses can never reach a real mailbox.
var emailDomains = []string{"example.com", "example.org", "example.net"}
