package seed

import "slices"

// Race and ethnicity: the OMB categories of the CDC Race & Ethnicity code
// system, as US Core 3.1.1 binds them in its us-core-race and
// us-core-ethnicity extensions. Codes and displays are copied from US Core
// 3.1.1 (repository HL7/US-Core, branch version311):
// source/resources/valueset-omb-race.xml (ValueSet omb-race-category) and
// valueset-omb-ethnicity.xml (omb-ethnicity-category) name the codes;
// displays are the code system's own, source/resources/codesystem-cdcrec.xml
// (the ethnicity value set spells 2186-5 "Non Hispanic or Latino", the code
// system and US Core's example patients "Not Hispanic or Latino").
// The race value set's two null-flavour codes (UNK, ASKU) are not used:
// every generated patient has a known race.

// SystemCDCRace is the CDC Race & Ethnicity code system.
const SystemCDCRace = "urn:oid:2.16.840.1.113883.6.238"

var ombRaces = [...]Coding{
	{SystemCDCRace, "1002-5", "American Indian or Alaska Native"},
	{SystemCDCRace, "2028-9", "Asian"},
	{SystemCDCRace, "2054-5", "Black or African American"},
	{SystemCDCRace, "2076-8", "Native Hawaiian or Other Pacific Islander"},
	{SystemCDCRace, "2106-3", "White"},
}

// ombRaceWeights (percent, same order as ombRaces) are a generator
// choice, not a source: about the US population's shares, with the two
// smallest categories raised so that a population of a few hundred
// patients holds every category.
var ombRaceWeights = [len(ombRaces)]int{4, 7, 14, 3, 72}

const (
	ombHispanic = iota
	ombNotHispanic
)

var ombEthnicities = [...]Coding{
	ombHispanic:    {SystemCDCRace, "2135-2", "Hispanic or Latino"},
	ombNotHispanic: {SystemCDCRace, "2186-5", "Not Hispanic or Latino"},
}

// hispanicPct is the generator's share of Hispanic or Latino patients
// among those who do not speak Spanish; Spanish speakers are all Hispanic
// or Latino.
const hispanicPct = 12

// RaceCategories returns the OMB race categories the generator assigns,
// a copy: the table itself stays read-only.
func RaceCategories() []Coding { return slices.Clone(ombRaces[:]) }

// EthnicityCategories returns the OMB ethnicity categories the generator
// assigns, a copy.
func EthnicityCategories() []Coding { return slices.Clone(ombEthnicities[:]) }

// streamOMB keys the race and ethnicity draw. It is a stream of its own,
// not draws of the patient's stream, so that introducing these fields
// left every other generated value, and every rendered DSTU2 and STU3
// byte, as it was.
const streamOMB = "omb"

// ombCategories picks patient i's race and ethnicity from one hash of
// (seed, tenant, i): the low bits choose the race, the high bits the
// ethnicity, so the two are independent. A Spanish speaker is Hispanic or
// Latino.
func ombCategories(seed int64, tenant string, i int, language Coding) (race, ethnicity Coding) {
	h := uint64(streamSeed(streamOMB, seed, tenant, i))
	x := int(h % 100)
	race = ombRaces[len(ombRaces)-1]
	for k, w := range ombRaceWeights {
		if x < w {
			race = ombRaces[k]
			break
		}
		x -= w
	}
	ethnicity = ombEthnicities[ombNotHispanic]
	if language == langSpanish || int((h>>32)%100) < hispanicPct {
		ethnicity = ombEthnicities[ombHispanic]
	}
	return race, ethnicity
}
