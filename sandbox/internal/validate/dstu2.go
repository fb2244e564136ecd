package validate

import "errors"

// DSTU2 validates one DSTU2 (1.0.2) resource.
func DSTU2(resourceJSON []byte) error {
	if err := checkInput(resourceJSON); err != nil {
		return err
	}
	return errors.New("dstu2: not implemented")
}
