package demodir

// Password is the password of every user [People] returns.
const Password = "Demo-Passw0rd"

// People returns sample people and groups for `authority serve --demo`
// (and for small tests): staff and students, groups staff, students, admins,
// managers, support and workstationadmins. Every user's password is
// [Password]. dave is disabled (Disabled, userAccountControl 514 — he can
// still bind to glauth), bob has two mail values, erin has no employeeType.
//
//	alice  staff     admins, managers       employeeType staff
//	bob    staff     support                two mails
//	carol  staff     managers, workstationadmins
//	dave   students  (disabled)             employeeType student
//	erin   students                         no employeeType
//	frank  students  support
//	grace  staff     admins
//
// Pass the result to [Start].
func People() ([]User, []string) {
	staff := func(title string) map[string][]string {
		return map[string][]string{"employeeType": {"staff"}, "title": {title}, "department": {"IT"}}
	}
	student := map[string][]string{"employeeType": {"student"}}
	users := []User{
		{Name: "alice", GivenName: "Alice", SN: "Anderson", Mail: []string{"alice@example.com"},
			PrimaryGroup: "staff", OtherGroups: []string{"admins", "managers"}, Custom: staff("IT Director")},
		{Name: "bob", GivenName: "Bob", SN: "Brown", Mail: []string{"bob@example.com", "bob.brown@example.org"},
			PrimaryGroup: "staff", OtherGroups: []string{"support"}, Custom: staff("Help Desk")},
		{Name: "carol", GivenName: "Carol", SN: "Clark", Mail: []string{"carol@example.com"},
			PrimaryGroup: "staff", OtherGroups: []string{"managers", "workstationadmins"}, Custom: staff("Manager")},
		{Name: "dave", GivenName: "Dave", SN: "Davis", Mail: []string{"dave@example.com"},
			PrimaryGroup: "students", Disabled: true, Custom: student},
		{Name: "erin", GivenName: "Erin", SN: "Evans", Mail: []string{"erin@example.com"},
			PrimaryGroup: "students"},
		{Name: "frank", GivenName: "Frank", SN: "Foster", Mail: []string{"frank@example.com"},
			PrimaryGroup: "students", OtherGroups: []string{"support"}, Custom: student},
		{Name: "grace", GivenName: "Grace", SN: "Green", Mail: []string{"grace@example.com"},
			PrimaryGroup: "staff", OtherGroups: []string{"admins"}, Custom: staff("Engineer")},
	}
	for i := range users {
		users[i].Password = Password
	}
	groups := []string{"staff", "students", "admins", "managers", "support", "workstationadmins"}
	return users, groups
}
