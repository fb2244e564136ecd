package seed

// Terminology tables. Every System/Code/Display below is copied from
// testdata/clinical-codes.yaml (a verbatim copy of the project's reference
// code list); codes_test.go parses that file and fails if any entry here is
// not in it, so no code can be invented by a typo. Fields that are not codes
// (age limits, weights, dosage text) are generator choices and say so.
//
// The tables are read-only after package initialisation.

// Code system URIs: yaml group `code_systems`.
const (
	SystemSNOMED = "http://snomed.info/sct"
	SystemLOINC  = "http://loinc.org"
	SystemRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	SystemUCUM   = "http://unitsofmeasure.org"
)

// MRNType is the identifier type coding of a medical record number
// (yaml group `identifier_types.mrn`, DSTU2 and STU3 system).
func MRNType() Coding {
	return Coding{System: "http://hl7.org/fhir/v2/0203", Code: "MR", Display: "Medical record number"}
}

// tenths is a value range in tenths of the unit, so that generated values
// are computed in integers and render identically on every architecture.
type tenths struct{ Lo, Hi int }

// vitalDef is one vital sign: yaml group `vital_signs` (Key, Code, Unit,
// UCUM, ranges) and `vital_sign_panels.blood_pressure.components`.
type vitalDef struct {
	Key      string
	Code     Coding
	Unit     string // yaml `unit`
	UCUM     string // yaml `ucum`
	Decimals int    // generator choice: digits rendered after the point
	Adult    tenths // yaml `adult_range`; zero when the yaml has none
	Child    tenths // yaml `child_range` (2-12 y; head circumference 0-36 months)
}

// Indexes into vitalSigns.
const (
	vHeight = iota
	vWeight
	vBMI
	vHeartRate
	vRespRate
	vTemp
	vSpO2
	vHeadCirc
	vSystolic
	vDiastolic
	vitalCount
)

// vitalSigns: yaml group `vital_signs` (first eight) and
// `vital_sign_panels.blood_pressure.components` (systolic, diastolic).
var vitalSigns = [vitalCount]vitalDef{
	vHeight:    {Key: "body_height", Code: Coding{SystemLOINC, "8302-2", "Body height"}, Unit: "cm", UCUM: "cm", Decimals: 1, Adult: tenths{1500, 1950}, Child: tenths{850, 1600}},
	vWeight:    {Key: "body_weight", Code: Coding{SystemLOINC, "29463-7", "Body weight"}, Unit: "kg", UCUM: "kg", Decimals: 1, Adult: tenths{450, 1400}, Child: tenths{100, 500}},
	vBMI:       {Key: "bmi", Code: Coding{SystemLOINC, "39156-5", "Body mass index (BMI) [Ratio]"}, Unit: "kg/m2", UCUM: "kg/m2", Decimals: 1, Adult: tenths{185, 350}, Child: tenths{130, 250}},
	vHeartRate: {Key: "heart_rate", Code: Coding{SystemLOINC, "8867-4", "Heart rate"}, Unit: "/min", UCUM: "/min", Decimals: 0, Adult: tenths{600, 1000}, Child: tenths{700, 1200}},
	vRespRate:  {Key: "respiratory_rate", Code: Coding{SystemLOINC, "9279-1", "Respiratory rate"}, Unit: "/min", UCUM: "/min", Decimals: 0, Adult: tenths{120, 200}, Child: tenths{180, 300}},
	vTemp:      {Key: "body_temperature", Code: Coding{SystemLOINC, "8310-5", "Body temperature"}, Unit: "Cel", UCUM: "Cel", Decimals: 1, Adult: tenths{361, 378}, Child: tenths{363, 379}},
	vSpO2:      {Key: "oxygen_saturation", Code: Coding{SystemLOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"}, Unit: "%", UCUM: "%", Decimals: 0, Adult: tenths{950, 1000}, Child: tenths{950, 1000}},
	vHeadCirc:  {Key: "head_circumference", Code: Coding{SystemLOINC, "8287-5", "Head Occipital-frontal circumference by Tape measure"}, Unit: "cm", UCUM: "cm", Decimals: 1, Child: tenths{330, 520}},
	vSystolic:  {Key: "systolic", Code: Coding{SystemLOINC, "8480-6", "Systolic blood pressure"}, Unit: "mm[Hg]", UCUM: "mm[Hg]", Decimals: 0, Adult: tenths{1000, 1400}, Child: tenths{850, 1200}},
	vDiastolic: {Key: "diastolic", Code: Coding{SystemLOINC, "8462-4", "Diastolic blood pressure"}, Unit: "mm[Hg]", UCUM: "mm[Hg]", Decimals: 0, Adult: tenths{600, 900}, Child: tenths{500, 800}},
}

// spO2Also is the second oxygen saturation coding: yaml `vital_signs`
// oxygen_saturation `also_code` (R4 base code, written alongside).
var spO2Also = Coding{SystemLOINC, "2708-6", "Oxygen saturation in Arterial blood"}

// headCircR4 is the head circumference code the R4 base profile headcircum
// fixes: yaml `vital_signs` head_circumference `synthea_code` (Synthea
// writes it for R4), rendered beside 8287-5 in R4 only.
var headCircR4 = Coding{SystemLOINC, "9843-4", "Head Occipital-frontal circumference"}

// Blood pressure panel codes: yaml `vital_sign_panels.blood_pressure`.
var (
	bpPanelSTU3  = Coding{SystemLOINC, "85354-9", "Blood pressure panel with all children optional"}
	bpPanelDSTU2 = Coding{SystemLOINC, "55284-4", "Blood pressure systolic and diastolic"}
)

// KeyBloodPressure is the Observation.Key of the blood pressure panel.
const KeyBloodPressure = "blood_pressure"

// Encounter type indexes into encounterTypes.
const (
	etWellChild = iota
	etGeneralExam
	etCheckUp
	etEmergencyRoom
	etUrgentCare
	etSymptom
	etProblem
	etFollowUp
	etHospitalAdmission
	etEmergencyAdmission
	etPrenatal
	etHomeVisit
	encounterTypeCount
)

// encounterTypeDef: yaml group `encounter_types` (Code, Class). ActCode is
// the generator's mapping of the yaml class to the v3 ActCode that
// Encounter.class carries in DSTU2/STU3.
type encounterTypeDef struct {
	Code    Coding
	Class   string // yaml `class`
	ActCode string // AMB | EMER | IMP | HH
}

var encounterTypes = [encounterTypeCount]encounterTypeDef{
	etWellChild:          {Coding{SystemSNOMED, "410620009", "Well child visit (procedure)"}, "wellness", "AMB"},
	etGeneralExam:        {Coding{SystemSNOMED, "162673000", "General examination of patient (procedure)"}, "wellness", "AMB"},
	etCheckUp:            {Coding{SystemSNOMED, "185349003", "Encounter for check up (procedure)"}, "outpatient", "AMB"},
	etEmergencyRoom:      {Coding{SystemSNOMED, "50849002", "Emergency room admission (procedure)"}, "emergency", "EMER"},
	etUrgentCare:         {Coding{SystemSNOMED, "702927004", "Urgent care clinic (environment)"}, "urgentcare", "AMB"},
	etSymptom:            {Coding{SystemSNOMED, "185345009", "Encounter for symptom (procedure)"}, "ambulatory", "AMB"},
	etProblem:            {Coding{SystemSNOMED, "185347001", "Encounter for problem (procedure)"}, "ambulatory", "AMB"},
	etFollowUp:           {Coding{SystemSNOMED, "390906007", "Follow-up encounter (procedure)"}, "ambulatory", "AMB"},
	etHospitalAdmission:  {Coding{SystemSNOMED, "32485007", "Hospital admission (procedure)"}, "inpatient", "IMP"},
	etEmergencyAdmission: {Coding{SystemSNOMED, "183452005", "Emergency hospital admission (procedure)"}, "emergency", "EMER"},
	etPrenatal:           {Coding{SystemSNOMED, "424619006", "Prenatal visit (regime/therapy)"}, "ambulatory", "AMB"},
	etHomeVisit:          {Coding{SystemSNOMED, "439708006", "Home visit (procedure)"}, "home", "HH"},
}

// Severity indexes into conditionSeverity.
const (
	sevMild = iota
	sevModerate
	sevSevere
)

// conditionSeverity: yaml group `condition_severity`.
var conditionSeverity = [3]Coding{
	sevMild:     {SystemSNOMED, "255604002", "Mild"},
	sevModerate: {SystemSNOMED, "6736007", "Moderate"},
	sevSevere:   {SystemSNOMED, "24484000", "Severe"},
}

// Medication group indexes into medGroups; mgNone marks a condition that
// the yaml has no medication group for.
const (
	mgNone = iota - 1
	mgHypertension
	mgDiabetes
	mgHyperlipidemia
	mgAsthma
	mgCOPD
	mgAFib
	mgHeartFailure
	mgIschemic
	mgHypothyroidism
	mgGout
	mgRheumatoid
	mgPain
	mgDepression
	mgADHD
	mgAllergicRhinitis
	mgOtitis
	mgStrep
	mgSinusitis
	mgUTI
	mgAnaphylaxis
	mgOsteoporosis
	medGroupCount
)

// medDef is one medication: Code from the yaml; the rest are generator
// choices (dosage text a clinician would write, course length, minimum age).
type medDef struct {
	Code       Coding
	Dosage     string
	CourseDays int // 0: long-term
	MinAge     int // years
}

// medGroup: yaml group `medications.<Name>`.
type medGroup struct {
	Name string
	Meds []medDef
}

func rx(code, display string) Coding { return Coding{SystemRxNorm, code, display} }

var medGroups = [medGroupCount]medGroup{
	mgHypertension: {"hypertension", []medDef{
		{rx("314076", "lisinopril 10 MG Oral Tablet"), "Take 1 tablet (10 mg) by mouth once daily", 0, 18},
		{rx("979485", "losartan potassium 25 MG Oral Tablet"), "Take 1 tablet (25 mg) by mouth once daily", 0, 18},
		{rx("308136", "amLODIPine 2.5 MG Oral Tablet"), "Take 1 tablet (2.5 mg) by mouth once daily", 0, 18},
		{rx("310798", "Hydrochlorothiazide 25 MG Oral Tablet"), "Take 1 tablet (25 mg) by mouth once daily in the morning", 0, 18},
	}},
	mgDiabetes: {"diabetes_type_2", []medDef{
		{rx("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"), "Take 1 tablet (500 mg) by mouth once daily with the evening meal", 0, 18},
		{rx("1373463", "canagliflozin 100 MG Oral Tablet"), "Take 1 tablet (100 mg) by mouth once daily before the first meal of the day", 0, 18},
		{rx("897122", "3 ML liraglutide 6 MG/ML Pen Injector"), "Inject 1.2 mg under the skin once daily", 0, 18},
		{rx("865098", "Insulin Lispro 100 UNT/ML Injectable Solution [Humalog]"), "Inject under the skin within 15 minutes before meals; dose per sliding scale", 0, 18},
	}},
	mgHyperlipidemia: {"hyperlipidemia", []medDef{
		{rx("314231", "simvastatin 10 MG Oral Tablet"), "Take 1 tablet (10 mg) by mouth once daily in the evening", 0, 18},
		{rx("617312", "atorvastatin 10 MG Oral Tablet"), "Take 1 tablet (10 mg) by mouth once daily", 0, 18},
	}},
	mgAsthma: {"asthma", []medDef{
		{rx("745752", "NDA021457 200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler [ProAir]"), "Inhale 2 puffs by mouth every 4 to 6 hours as needed for wheezing", 0, 4},
		{rx("895996", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler [Flovent]"), "Inhale 2 puffs by mouth twice daily; rinse mouth after use", 0, 4},
	}},
	mgCOPD: {"copd", []medDef{
		{rx("896209", "60 ACTUAT Fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry Powder Inhaler"), "Inhale 1 puff by mouth twice daily", 0, 18},
		{rx("245314", "albuterol 5 MG/ML Inhalation Solution"), "Inhale 2.5 mg by nebulizer every 6 hours as needed for shortness of breath", 0, 18},
	}},
	mgAFib: {"atrial_fibrillation", []medDef{
		{rx("855332", "Warfarin Sodium 5 MG Oral Tablet"), "Take 1 tablet (5 mg) by mouth once daily in the evening; dose adjusted to INR", 0, 18},
		{rx("197604", "Digoxin 0.125 MG Oral Tablet"), "Take 1 tablet (0.125 mg) by mouth once daily", 0, 18},
	}},
	mgHeartFailure: {"heart_failure", []medDef{
		{rx("313988", "Furosemide 40 MG Oral Tablet"), "Take 1 tablet (40 mg) by mouth once daily in the morning", 0, 18},
		{rx("200033", "carvedilol 25 MG Oral Tablet"), "Take 1 tablet (25 mg) by mouth twice daily with food", 0, 18},
	}},
	mgIschemic: {"ischemic_heart_disease", []medDef{
		{rx("309362", "Clopidogrel 75 MG Oral Tablet"), "Take 1 tablet (75 mg) by mouth once daily", 0, 18},
		{rx("866412", "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet"), "Take 1 tablet (100 mg) by mouth once daily", 0, 18},
		{rx("243670", "Aspirin 81 MG Oral Tablet"), "Take 1 tablet (81 mg) by mouth once daily", 0, 18},
	}},
	mgHypothyroidism: {"hypothyroidism", []medDef{
		{rx("966222", "Levothyroxine Sodium 0.075 MG Oral Tablet"), "Take 1 tablet (75 mcg) by mouth once daily on an empty stomach", 0, 0},
	}},
	mgGout: {"gout", []medDef{
		{rx("197319", "Allopurinol 100 MG Oral Tablet"), "Take 1 tablet (100 mg) by mouth once daily", 0, 18},
	}},
	mgRheumatoid: {"rheumatoid_arthritis", []medDef{
		{rx("105585", "Methotrexate 2.5 MG Oral Tablet"), "Take 4 tablets (10 mg) by mouth once weekly on the same day each week", 0, 18},
		{rx("312615", "predniSONE 20 MG Oral Tablet"), "Take 1 tablet (20 mg) by mouth once daily with food for 5 days", 5, 18},
	}},
	mgPain: {"pain_osteoarthritis", []medDef{
		{rx("849574", "Naproxen sodium 220 MG Oral Tablet"), "Take 1 tablet (220 mg) by mouth every 8 to 12 hours as needed for pain", 0, 12},
		{rx("313782", "Acetaminophen 325 MG Oral Tablet"), "Take 2 tablets (650 mg) by mouth every 6 hours as needed for pain", 0, 6},
		{rx("310965", "Ibuprofen 200 MG Oral Tablet"), "Take 2 tablets (400 mg) by mouth every 6 to 8 hours as needed for pain, with food", 0, 6},
	}},
	mgDepression: {"depression", []medDef{
		{rx("310385", "FLUoxetine 20 MG Oral Capsule"), "Take 1 capsule (20 mg) by mouth once daily in the morning", 0, 12},
	}},
	mgADHD: {"adhd", []medDef{
		{rx("1091392", "Methylphenidate Hydrochloride 20 MG Oral Tablet"), "Take 1 tablet (20 mg) by mouth once daily in the morning", 0, 6},
	}},
	mgAllergicRhinitis: {"allergic_rhinitis", []medDef{
		{rx("311372", "Loratadine 10 MG Oral Tablet"), "Take 1 tablet (10 mg) by mouth once daily as needed for allergy symptoms", 0, 6},
		{rx("1014678", "cetirizine hydrochloride 10 MG Oral Tablet"), "Take 1 tablet (10 mg) by mouth once daily", 0, 6},
	}},
	mgOtitis: {"otitis_media", []medDef{
		{rx("308182", "Amoxicillin 250 MG Oral Capsule"), "Take 1 capsule (250 mg) by mouth three times daily for 10 days", 10, 0},
	}},
	mgStrep: {"streptococcal_pharyngitis", []medDef{
		{rx("834061", "Penicillin V Potassium 250 MG Oral Tablet"), "Take 1 tablet (250 mg) by mouth twice daily for 10 days", 10, 0},
	}},
	mgSinusitis: {"sinusitis", []medDef{
		{rx("562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet"), "Take 1 tablet by mouth every 8 hours for 10 days", 10, 0},
	}},
	mgUTI: {"urinary_tract_infection", []medDef{
		{rx("198335", "sulfamethoxazole 800 MG / trimethoprim 160 MG Oral Tablet"), "Take 1 tablet by mouth every 12 hours for 3 days", 3, 12},
	}},
	mgAnaphylaxis: {"anaphylaxis", []medDef{
		{rx("1870230", "NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector"), "Inject 0.3 mg into the outer thigh once as needed for anaphylaxis; call 911 after use", 0, 0},
	}},
	mgOsteoporosis: {"osteoporosis", []medDef{
		{rx("904419", "Alendronic acid 10 MG Oral Tablet"), "Take 1 tablet (10 mg) by mouth once daily with a full glass of water, 30 minutes before breakfast", 0, 18},
	}},
}

// Acute condition settings: which encounter a new episode brings the
// patient to (generator choice).
const (
	setOffice    = iota // symptom visit or urgent care
	setEmergency        // emergency room, sometimes admitted
	setAdmission        // emergency hospital admission
)

// conditionDef: Code and Kind from yaml group `conditions`; the other
// fields are the generator's plausibility rules.
type conditionDef struct {
	Code      Coding
	Kind      string // yaml `kind`: chronic | acute
	MinMonths int    // youngest age (months) at which it is diagnosed
	MaxYears  int    // oldest current age (years) that may carry it; 0: none
	Weight    int    // relative prevalence among eligible conditions
	Meds      int    // medGroups index or mgNone
	Setting   int    // acute only
	Fever     bool   // acute only: temperature is raised at the visit
	NotBefore int    // acute only: earliest onset as yyyymm (COVID-19), 0: none
}

func sct(code, display string) Coding { return Coding{SystemSNOMED, code, display} }

// Condition indexes that other rules refer to.
const (
	condHypertension = 0
	condDiabetes     = 1
	condPrediabetes  = 2
	condObesity      = 4
	condCOPD         = 6
	condEmphysema    = 7
)

var conditions = []conditionDef{
	condHypertension: {Code: sct("59621000", "Essential hypertension (disorder)"), Kind: "chronic", MinMonths: 25 * 12, Weight: 30, Meds: mgHypertension},
	condDiabetes:     {Code: sct("44054006", "Diabetes mellitus type 2 (disorder)"), Kind: "chronic", MinMonths: 30 * 12, Weight: 12, Meds: mgDiabetes},
	condPrediabetes:  {Code: sct("714628002", "Prediabetes (finding)"), Kind: "chronic", MinMonths: 25 * 12, Weight: 10, Meds: mgNone},
	{Code: sct("55822004", "Hyperlipidemia (disorder)"), Kind: "chronic", MinMonths: 30 * 12, Weight: 18, Meds: mgHyperlipidemia},
	condObesity: {Code: sct("162864005", "Body mass index 30+ - obesity (finding)"), Kind: "chronic", MinMonths: 18 * 12, Weight: 14, Meds: mgNone},
	{Code: sct("195967001", "Asthma (disorder)"), Kind: "chronic", MinMonths: 3 * 12, Weight: 8, Meds: mgAsthma},
	condCOPD:      {Code: sct("185086009", "Chronic obstructive bronchitis (disorder)"), Kind: "chronic", MinMonths: 45 * 12, Weight: 4, Meds: mgCOPD},
	condEmphysema: {Code: sct("87433001", "Pulmonary emphysema (disorder)"), Kind: "chronic", MinMonths: 50 * 12, Weight: 2, Meds: mgCOPD},
	{Code: sct("49436004", "Atrial fibrillation (disorder)"), Kind: "chronic", MinMonths: 55 * 12, Weight: 5, Meds: mgAFib},
	{Code: sct("88805009", "Chronic congestive heart failure (disorder)"), Kind: "chronic", MinMonths: 60 * 12, Weight: 4, Meds: mgHeartFailure},
	{Code: sct("414545008", "Ischemic heart disease (disorder)"), Kind: "chronic", MinMonths: 45 * 12, Weight: 6, Meds: mgIschemic},
	{Code: sct("22298006", "Myocardial infarction (disorder)"), Kind: "acute", MinMonths: 45 * 12, Weight: 2, Meds: mgIschemic, Setting: setAdmission},
	{Code: sct("230690007", "Cerebrovascular accident (disorder)"), Kind: "acute", MinMonths: 50 * 12, Weight: 2, Meds: mgIschemic, Setting: setAdmission},
	{Code: sct("433144002", "Chronic kidney disease stage 3 (disorder)"), Kind: "chronic", MinMonths: 50 * 12, Weight: 4, Meds: mgNone},
	{Code: sct("83664006", "Idiopathic atrophic hypothyroidism (disorder)"), Kind: "chronic", MinMonths: 20 * 12, Weight: 6, Meds: mgHypothyroidism},
	{Code: sct("239873007", "Osteoarthritis of knee (disorder)"), Kind: "chronic", MinMonths: 45 * 12, Weight: 10, Meds: mgPain},
	{Code: sct("69896004", "Rheumatoid arthritis (disorder)"), Kind: "chronic", MinMonths: 30 * 12, Weight: 2, Meds: mgRheumatoid},
	{Code: sct("90560007", "Gout"), Kind: "chronic", MinMonths: 35 * 12, Weight: 3, Meds: mgGout},
	{Code: sct("64859006", "Osteoporosis (disorder)"), Kind: "chronic", MinMonths: 55 * 12, Weight: 4, Meds: mgOsteoporosis},
	{Code: sct("26929004", "Alzheimer's disease (disorder)"), Kind: "chronic", MinMonths: 65 * 12, Weight: 4, Meds: mgNone},
	{Code: sct("84757009", "Epilepsy (disorder)"), Kind: "chronic", MinMonths: 2 * 12, Weight: 1, Meds: mgNone},
	{Code: sct("192127007", "Child attention deficit disorder (disorder)"), Kind: "chronic", MinMonths: 5 * 12, MaxYears: 25, Weight: 6, Meds: mgADHD},
	{Code: sct("370143000", "Major depressive disorder (disorder)"), Kind: "chronic", MinMonths: 15 * 12, Weight: 8, Meds: mgDepression},
	{Code: sct("367498001", "Seasonal allergic rhinitis (disorder)"), Kind: "chronic", MinMonths: 3 * 12, Weight: 10, Meds: mgAllergicRhinitis},
	{Code: sct("24079001", "Atopic dermatitis (disorder)"), Kind: "chronic", MinMonths: 6, MaxYears: 50, Weight: 5, Meds: mgNone},
	{Code: sct("78275009", "Obstructive sleep apnea syndrome (disorder)"), Kind: "chronic", MinMonths: 30 * 12, Weight: 4, Meds: mgNone},
	{Code: sct("95417003", "Primary fibromyalgia syndrome (disorder)"), Kind: "chronic", MinMonths: 25 * 12, Weight: 2, Meds: mgPain},
	{Code: sct("271737000", "Anemia (disorder)"), Kind: "chronic", MinMonths: 12, Weight: 4, Meds: mgNone},
	{Code: sct("82423001", "Chronic pain (finding)"), Kind: "chronic", MinMonths: 25 * 12, Weight: 5, Meds: mgPain},
	{Code: sct("10509002", "Acute bronchitis (disorder)"), Kind: "acute", MinMonths: 12, Weight: 6, Meds: mgNone, Setting: setOffice, Fever: true},
	{Code: sct("444814009", "Viral sinusitis (disorder)"), Kind: "acute", MinMonths: 2 * 12, Weight: 10, Meds: mgSinusitis, Setting: setOffice},
	{Code: sct("195662009", "Acute viral pharyngitis (disorder)"), Kind: "acute", MinMonths: 2 * 12, Weight: 8, Meds: mgNone, Setting: setOffice, Fever: true},
	{Code: sct("43878008", "Streptococcal sore throat (disorder)"), Kind: "acute", MinMonths: 3 * 12, Weight: 5, Meds: mgStrep, Setting: setOffice, Fever: true},
	{Code: sct("65363002", "Otitis media (disorder)"), Kind: "acute", MinMonths: 6, MaxYears: 15, Weight: 8, Meds: mgOtitis, Setting: setOffice, Fever: true},
	{Code: sct("307426000", "Acute infective cystitis (disorder)"), Kind: "acute", MinMonths: 5 * 12, Weight: 5, Meds: mgUTI, Setting: setOffice},
	{Code: sct("74400008", "Appendicitis (disorder)"), Kind: "acute", MinMonths: 5 * 12, MaxYears: 70, Weight: 2, Meds: mgNone, Setting: setEmergency, Fever: true},
	{Code: sct("44465007", "Sprain of ankle (disorder)"), Kind: "acute", MinMonths: 5 * 12, MaxYears: 85, Weight: 5, Meds: mgPain, Setting: setEmergency},
	{Code: sct("840539006", "Disease caused by severe acute respiratory syndrome coronavirus 2 (disorder)"), Kind: "acute", MinMonths: 6, Weight: 5, Meds: mgNone, Setting: setOffice, Fever: true, NotBefore: 202003},
}

// Allergy categories as the yaml spells them.
const (
	catFood        = "food"
	catEnvironment = "environment"
	catMedication  = "medication"
)

// substanceDef: yaml group `allergies.substances` (Code, Category).
// Reactions lists indexes into allergyReactions that the substance
// plausibly causes (generator choice).
type substanceDef struct {
	Code      Coding
	Category  string
	Reactions []int
	Weight    int
}

// Reaction indexes into allergyReactions.
const (
	reAnaphylaxis = iota
	reWheal
	reEruption
	reItching
	reAngioedema
	reDyspnea
	reWheezing
	reRhinoconjunctivitis
	reNausea
	reCough
	reactionCount
)

// allergyReactions: yaml group `allergies.reactions`.
var allergyReactions = [reactionCount]Coding{
	reAnaphylaxis:         sct("39579001", "Anaphylaxis (disorder)"),
	reWheal:               sct("247472004", "Wheal (finding)"),
	reEruption:            sct("271807003", "Eruption of skin (disorder)"),
	reItching:             sct("418290006", "Itching (finding)"),
	reAngioedema:          sct("402387002", "Allergic angioedema (disorder)"),
	reDyspnea:             sct("267036007", "Dyspnea (finding)"),
	reWheezing:            sct("56018004", "Wheezing (finding)"),
	reRhinoconjunctivitis: sct("878820003", "Rhinoconjunctivitis (disorder)"),
	reNausea:              sct("422587007", "Nausea (finding)"),
	reCough:               sct("49727002", "Cough (finding)"),
}

var (
	foodReactions  = []int{reWheal, reItching, reEruption, reAngioedema, reNausea, reAnaphylaxis}
	airReactions   = []int{reRhinoconjunctivitis, reCough, reWheezing, reItching, reDyspnea}
	stingReactions = []int{reWheal, reAngioedema, reItching, reAnaphylaxis}
	latexReactions = []int{reWheal, reEruption, reItching, reAnaphylaxis}
	drugReactions  = []int{reEruption, reWheal, reItching, reAngioedema, reNausea, reDyspnea, reAnaphylaxis}
)

// Drug allergen indexes into allergySubstances.
const (
	substanceIdxPen = 15 // Penicillin V
	substanceIdxSMX = 16 // Sulfamethoxazole / Trimethoprim
	substanceIdxASA = 17 // Aspirin
	substanceIdxIBU = 18 // Ibuprofen
)

var allergySubstances = []substanceDef{
	{sct("762952008", "Peanut (substance)"), catFood, foodReactions, 8},
	{sct("442571000124108", "Tree nut (substance)"), catFood, foodReactions, 5},
	{sct("735029006", "Shellfish (substance)"), catFood, foodReactions, 6},
	{sct("735971005", "Fish (substance)"), catFood, foodReactions, 3},
	{sct("102263004", "Eggs (edible) (substance)"), catFood, foodReactions, 3},
	{sct("3718001", "Cow's milk (substance)"), catFood, foodReactions, 3},
	{sct("412071004", "Wheat (substance)"), catFood, foodReactions, 2},
	{sct("256355007", "Glycine max (substance)"), catFood, foodReactions, 2},
	{sct("256277009", "Grass pollen (substance)"), catEnvironment, airReactions, 8},
	{sct("782576004", "Tree pollen (substance)"), catEnvironment, airReactions, 7},
	{sct("260147004", "House dust mite (organism)"), catEnvironment, airReactions, 7},
	{sct("264287008", "Animal dander (substance)"), catEnvironment, airReactions, 6},
	{sct("84489001", "Mold (organism)"), catEnvironment, airReactions, 4},
	{sct("288328004", "Bee venom (substance)"), catEnvironment, stingReactions, 3},
	{sct("111088007", "Latex (substance)"), catEnvironment, latexReactions, 2},
	substanceIdxPen: {rx("7984", "Penicillin V"), catMedication, drugReactions, 9},
	substanceIdxSMX: {rx("10831", "Sulfamethoxazole / Trimethoprim"), catMedication, drugReactions, 4},
	substanceIdxASA: {rx("1191", "Aspirin"), catMedication, drugReactions, 3},
	substanceIdxIBU: {rx("5640", "Ibuprofen"), catMedication, drugReactions, 3},
}

// drugConflicts lists, per drug allergen, the RxNorm codes a patient with
// that allergy must not be prescribed (penicillins; sulfonamide;
// aspirin/NSAIDs): a generator safety rule so the data never shows an
// allergic patient on the drug.
var drugConflicts = []struct {
	Substance int
	Codes     []string
}{
	{substanceIdxPen, []string{"834061", "308182", "562251"}},
	{substanceIdxSMX, []string{"198335"}},
	{substanceIdxASA, []string{"243670", "849574", "310965"}},
	{substanceIdxIBU, []string{"310965", "849574", "243670"}},
}

// payerDef: yaml group `payers`.
type payerDef struct {
	Name      string
	Ownership string // Government | Private
}

// Payer indexes into payers.
const (
	payMedicare = iota
	payMedicaid
	payDual
	payFirstPrivate
)

var payers = []payerDef{
	payMedicare: {"Medicare", "Government"},
	payMedicaid: {"Medicaid", "Government"},
	payDual:     {"Dual Eligible", "Government"},
	{"Humana", "Private"},
	{"Blue Cross Blue Shield", "Private"},
	{"UnitedHealthcare", "Private"},
	{"Aetna", "Private"},
	{"Cigna Health", "Private"},
	{"Anthem", "Private"},
}
